'use strict';
// Reads what the prebuild checks need from a Windows PE32+ DLL (the win32-x64 core), in
// plain JavaScript so that the same answer comes on Linux, on Windows and on the publishing
// runner (test/windows.test.js holds it against llvm-readobj-14): the machine, whether it is
// a DLL, the link timestamp, the exported names, the DLLs imported (and those delay-loaded).
const MACHINES = { 0x8664: 'x86-64', 0xaa64: 'arm64', 0x14c: 'i386' };

function isPE(bytes) {
  if (bytes.length < 0x40 || bytes.readUInt16LE(0) !== 0x5a4d) return false; // "MZ"
  const at = bytes.readUInt32LE(0x3c);
  return at + 4 <= bytes.length && bytes.readUInt32LE(at) === 0x00004550; // "PE\0\0"
}

function parse(bytes) {
  if (!isPE(bytes)) throw new Error('not a PE file');
  const pe = bytes.readUInt32LE(0x3c);
  const coff = pe + 4;
  const machine = bytes.readUInt16LE(coff);
  const sections = bytes.readUInt16LE(coff + 2);
  const timestamp = bytes.readUInt32LE(coff + 4);
  const optSize = bytes.readUInt16LE(coff + 16);
  const characteristics = bytes.readUInt16LE(coff + 18);
  const opt = coff + 20;
  const magic = bytes.readUInt16LE(opt);
  if (magic !== 0x20b) throw new Error(`not PE32+ (optional header magic 0x${magic.toString(16)})`);
  const checksum = bytes.readUInt32LE(opt + 64);
  const dllCharacteristics = bytes.readUInt16LE(opt + 70);
  const dirCount = bytes.readUInt32LE(opt + 108);
  const dir = (i) =>
    i < dirCount ? { rva: bytes.readUInt32LE(opt + 112 + i * 8), size: bytes.readUInt32LE(opt + 116 + i * 8) } : null;
  const table = [];
  for (let i = 0, s = opt + optSize; i < sections; i++, s += 40)
    table.push({
      name: bytes.toString('latin1', s, s + 8).replace(/\0+$/, ''),
      vsize: bytes.readUInt32LE(s + 8),
      rva: bytes.readUInt32LE(s + 12),
      rawSize: bytes.readUInt32LE(s + 16),
      raw: bytes.readUInt32LE(s + 20),
    });
  const off = (rva) => {
    for (const s of table) if (rva >= s.rva && rva < s.rva + Math.max(s.vsize, s.rawSize)) return rva - s.rva + s.raw;
    throw new Error(`RVA 0x${rva.toString(16)} is in no section`);
  };
  const cstr = (rva) => {
    const at = off(rva);
    return bytes.toString('latin1', at, bytes.indexOf(0, at));
  };

  const exported = [];
  let exportTimestamp = 0;
  const ed = dir(0);
  if (ed && ed.rva) {
    const e = off(ed.rva);
    exportTimestamp = bytes.readUInt32LE(e + 4);
    const names = bytes.readUInt32LE(e + 24);
    const namesAt = off(bytes.readUInt32LE(e + 32));
    for (let i = 0; i < names; i++) exported.push(cstr(bytes.readUInt32LE(namesAt + i * 4)));
  }
  const imports = [];
  const id = dir(1);
  if (id && id.rva)
    for (let d = off(id.rva); bytes.readUInt32LE(d + 12); d += 20) imports.push(cstr(bytes.readUInt32LE(d + 12)));
  const delayed = [];
  const dd = dir(13);
  if (dd && dd.rva)
    for (let d = off(dd.rva); bytes.readUInt32LE(d + 4); d += 32) delayed.push(cstr(bytes.readUInt32LE(d + 4)));
  // GNU ld (mingw-w64) links dlltool's delay-load descriptors without filling the Delay
  // Import directory entry: find them as the loader's helper does, a descriptor (attributes
  // 1: RVAs) whose name RVA points at a DLL name.
  if (!delayed.length) {
    const rvaOf = (at) => {
      for (const s of table) if (at >= s.raw && at < s.raw + s.rawSize) return at - s.raw + s.rva;
      return -1;
    };
    const names = new Map();
    for (const m of bytes.toString('latin1').matchAll(/[\w.-]+\.(?:exe|dll)\0/gi)) {
      const rva = rvaOf(m.index);
      if (rva >= 0) names.set(rva, m[0].slice(0, -1));
    }
    for (const s of table)
      for (let at = s.raw; at + 32 <= s.raw + s.rawSize; at += 4)
        if (bytes.readUInt32LE(at) === 1 && names.has(bytes.readUInt32LE(at + 4)) && bytes.readUInt32LE(at + 12))
          delayed.push(names.get(bytes.readUInt32LE(at + 4)));
  }
  const debug = dir(6);
  return {
    machine: MACHINES[machine] || `0x${machine.toString(16)}`,
    dll: (characteristics & 0x2000) !== 0,
    timestamp,
    exportTimestamp,
    checksum,
    dllCharacteristics,
    exported: exported.sort(),
    imports,
    delayed,
    hasDebugDirectory: !!(debug && debug.size),
    sections: table.map((s) => s.name),
  };
}

module.exports = { isPE, parse };

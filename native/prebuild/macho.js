'use strict';
// Mach-O (64-bit, one architecture) as far as the prebuild recipe needs it: what a file is
// (type, arch, minimum macOS, dylibs, UUID, code signature) and a deterministic LC_UUID.
//
// ld64.lld-14 writes a new random LC_UUID on every link, and on arm64 an ad-hoc code
// signature whose page hashes cover the load commands, UUID included. fixUuid() sets the UUID
// to a hash of the file's content with the UUID zeroed (the same bytes give the same UUID,
// as with Apple's ld) and re-hashes the signature's pages, so two builds of the same sources
// are the same file byte for byte. verifySignature() recomputes every page hash of the
// CodeDirectory, which is all an ad-hoc signature is (no certificate, no CMS blob).
const crypto = require('node:crypto');

const MH_MAGIC_64 = 0xfeedfacf;
const FILETYPES = { 1: 'MH_OBJECT', 2: 'MH_EXECUTE', 6: 'MH_DYLIB', 8: 'MH_BUNDLE' };
const CPUS = { 0x01000007: 'x86_64', 0x0100000c: 'arm64' };
const PLATFORMS = { 1: 'macos', 2: 'ios' };
const LC_SYMTAB = 0x2;
const LC_LOAD_DYLIB = 0xc;
const LC_ID_DYLIB = 0xd;
const LC_UUID = 0x1b;
const LC_CODE_SIGNATURE = 0x1d;
const LC_LOAD_WEAK_DYLIB = 0x80000018;
const LC_REEXPORT_DYLIB = 0x8000001f;
const LC_BUILD_VERSION = 0x32;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CS_HASHTYPE_SHA256 = 2;

function isMachO(bytes) {
  return bytes.length >= 32 && bytes.readUInt32LE(0) === MH_MAGIC_64;
}

function version(v) {
  return `${v >>> 16}.${(v >>> 8) & 0xff}` + (v & 0xff ? `.${v & 0xff}` : '');
}

function cstring(bytes, start, end) {
  const nul = bytes.indexOf(0, start);
  return bytes.toString('latin1', start, nul < 0 || nul > end ? end : nul);
}

function loadCommands(bytes) {
  if (!isMachO(bytes)) throw new Error('not a 64-bit Mach-O file');
  const ncmds = bytes.readUInt32LE(16);
  const cmds = [];
  let off = 32;
  for (let i = 0; i < ncmds; i++) {
    const cmd = bytes.readUInt32LE(off);
    const size = bytes.readUInt32LE(off + 4);
    cmds.push({ cmd, off, size });
    off += size;
  }
  return cmds;
}

// The signature's CodeDirectory: where its page hashes are and what they cover.
function codeDirectory(bytes, cs) {
  const sig = bytes.subarray(cs.dataoff, cs.dataoff + cs.datasize);
  if (sig.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) throw new Error('code signature: not a SuperBlob');
  const count = sig.readUInt32BE(8);
  for (let i = 0; i < count; i++) {
    const offset = sig.readUInt32BE(12 + i * 8 + 4);
    if (sig.readUInt32BE(offset) !== CSMAGIC_CODEDIRECTORY) continue;
    const cd = cs.dataoff + offset;
    return {
      start: cd,
      hashOffset: bytes.readUInt32BE(cd + 16),
      identifier: cstring(bytes, cd + bytes.readUInt32BE(cd + 20), cs.dataoff + cs.datasize),
      nCodeSlots: bytes.readUInt32BE(cd + 28),
      codeLimit: bytes.readUInt32BE(cd + 32),
      hashSize: bytes[cd + 36],
      hashType: bytes[cd + 37],
      pageSize: 2 ** bytes[cd + 39],
    };
  }
  throw new Error('code signature: no CodeDirectory');
}

function pageHash(bytes, cd, i) {
  const end = Math.min((i + 1) * cd.pageSize, cd.codeLimit);
  return crypto
    .createHash('sha256')
    .update(bytes.subarray(i * cd.pageSize, end))
    .digest();
}

function verifySignature(bytes, cd) {
  if (cd.hashType !== CS_HASHTYPE_SHA256 || cd.hashSize !== 32) return false;
  if (cd.nCodeSlots !== Math.ceil(cd.codeLimit / cd.pageSize)) return false;
  for (let i = 0; i < cd.nCodeSlots; i++) {
    const at = cd.start + cd.hashOffset + i * cd.hashSize;
    if (!pageHash(bytes, cd, i).equals(bytes.subarray(at, at + cd.hashSize))) return false;
  }
  return true;
}

// The external symbols the file defines (what `nm -gU` lists), from its symbol table.
function exportedSymbols(bytes, off) {
  const symoff = bytes.readUInt32LE(off + 8);
  const nsyms = bytes.readUInt32LE(off + 12);
  const stroff = bytes.readUInt32LE(off + 16);
  const strsize = bytes.readUInt32LE(off + 20);
  const out = [];
  for (let i = 0; i < nsyms; i++) {
    const n = symoff + i * 16;
    const type = bytes[n + 4];
    const kind = type & 0x0e; // N_TYPE: N_ABS 0x2, N_SECT 0xe
    if (type & 0xe0 || !(type & 0x01) || (kind !== 0x0e && kind !== 0x02)) continue; // stab, local, undefined
    out.push(cstring(bytes, stroff + bytes.readUInt32LE(n), stroff + strsize));
  }
  return out.sort();
}

/** {arch, filetypeName, platform, minos, sdk, dylibs, exported, uuid, signature} of a Mach-O file. */
function parse(bytes) {
  const out = {
    arch: CPUS[bytes.readUInt32LE(4)] || `cpu ${bytes.readUInt32LE(4)}`,
    filetypeName: FILETYPES[bytes.readUInt32LE(12)] || `type ${bytes.readUInt32LE(12)}`,
    platform: undefined,
    minos: undefined,
    sdk: undefined,
    dylibs: [],
    exported: [],
    uuid: undefined,
    signature: null,
  };
  for (const { cmd, off, size } of loadCommands(bytes)) {
    if (cmd === LC_SYMTAB) out.exported = exportedSymbols(bytes, off);
    else if ([LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB].includes(cmd))
      out.dylibs.push(cstring(bytes, off + bytes.readUInt32LE(off + 8), off + size));
    else if (cmd === LC_ID_DYLIB) out.installName = cstring(bytes, off + bytes.readUInt32LE(off + 8), off + size);
    else if (cmd === LC_UUID) out.uuid = bytes.subarray(off + 8, off + 24).toString('hex');
    else if (cmd === LC_BUILD_VERSION) {
      out.platform = PLATFORMS[bytes.readUInt32LE(off + 8)] || `platform ${bytes.readUInt32LE(off + 8)}`;
      out.minos = version(bytes.readUInt32LE(off + 12));
      out.sdk = version(bytes.readUInt32LE(off + 16));
    } else if (cmd === LC_CODE_SIGNATURE) {
      const cd = codeDirectory(bytes, { dataoff: bytes.readUInt32LE(off + 8), datasize: bytes.readUInt32LE(off + 12) });
      out.signature = { identifier: cd.identifier, pages: cd.nCodeSlots, valid: verifySignature(bytes, cd) };
    }
  }
  return out;
}

/**
 * Rewrites file's LC_UUID as a name-based UUID (version 5 layout) from the SHA-256 of the
 * file with that UUID zeroed and, when signed, re-hashes the signed pages. Idempotent.
 */
function fixUuid(file) {
  const fs = require('node:fs');
  const bytes = fs.readFileSync(file);
  const cmds = loadCommands(bytes);
  const uuidCmd = cmds.find((c) => c.cmd === LC_UUID);
  if (!uuidCmd) throw new Error(`${file}: no LC_UUID`);
  const cs = cmds.find((c) => c.cmd === LC_CODE_SIGNATURE);
  const at = uuidCmd.off + 8;
  const cd =
    cs && codeDirectory(bytes, { dataoff: bytes.readUInt32LE(cs.off + 8), datasize: bytes.readUInt32LE(cs.off + 12) });
  if (cd && !verifySignature(bytes, cd)) throw new Error(`${file}: the linker's code signature does not verify`);
  bytes.fill(0, at, at + 16);
  // what the signature covers (everything before it), or the whole file when unsigned
  const uuid = crypto
    .createHash('sha256')
    .update(bytes.subarray(0, cd ? cd.codeLimit : bytes.length))
    .digest()
    .subarray(0, 16);
  uuid[6] = (uuid[6] & 0x0f) | 0x50;
  uuid[8] = (uuid[8] & 0x3f) | 0x80;
  uuid.copy(bytes, at);
  if (cd)
    for (let i = 0; i < cd.nCodeSlots; i++)
      pageHash(bytes, cd, i).copy(bytes, cd.start + cd.hashOffset + i * cd.hashSize);
  fs.writeFileSync(file, bytes);
}

module.exports = { isMachO, parse, fixUuid };

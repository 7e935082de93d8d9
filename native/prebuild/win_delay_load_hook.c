/* win32-x64 only (linked by prebuild.js, not a core source): the core imports Node-API from
 * "node.exe" through a delay-load import library, and this hook answers that import with the
 * process's own executable, whatever its name. Node and Bun both export Node-API from their
 * executable (node.exe, bun.exe, a renamed or embedded one), so one .node loads in either. */
#include <windows.h>

#include <delayimp.h>
#include <string.h>

static FARPROC WINAPI host_executable(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary || _stricmp(info->szDll, "node.exe") != 0) return NULL;
  return (FARPROC)GetModuleHandleW(NULL);
}

PfnDliHook __pfnDliNotifyHook2 = host_executable;

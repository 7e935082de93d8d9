/* Tests only: a stand-in for Windows' bcryptprimitives.dll, which wine 8 (Debian 12) lacks and
 * the Windows Bun (1.4.5) imports for ProcessPrng alone; without it bun.exe does not start
 * under wine. Placed beside bun.exe in the test's copy (test/helpers/wine.js), never shipped.
 * ProcessPrng fills the buffer from the system's generator (RtlGenRandom, advapi32). */
#include <windows.h>

BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n, len -= n;
  }
  return TRUE;
}

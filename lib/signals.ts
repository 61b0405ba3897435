/**
 * Signal names (as images write STOPSIGNAL) to numbers, for x86_64/arm64 Linux.
 *
 * @module
 */

const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/** `SIGTERM`, `TERM`, `15` or `RTMIN+3` → its number; undefined when unknown. */
export function signalNumber(name: string): number | undefined {
  const s = name.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n > 0 && n <= 64 ? n : undefined;
  }
  const bare = s.startsWith("SIG") ? s.slice(3) : s;
  const rt = bare.match(/^RTMIN(?:\+(\d+))?$/);
  if (rt) return 34 + Number(rt[1] ?? 0);
  const rtmax = bare.match(/^RTMAX(?:-(\d+))?$/);
  if (rtmax) return 64 - Number(rtmax[1] ?? 0);
  return SIGNALS[bare];
}

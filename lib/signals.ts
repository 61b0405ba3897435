/**
 * Signal names (as images write STOPSIGNAL and the CRI's `Signal` enum spells them) to
 * numbers and back, for x86_64/arm64 Linux.
 *
 * Real-time signals are numbered as glibc and moby do: SIGRTMIN is 34, not the kernel's
 * 32, because glibc keeps 32 and 33 for itself; so `SIGRTMIN+n` is 34+n and `SIGRTMAX-n`
 * is 64-n. 32 and 33 have no name and are refused: no CRI `Signal` could report them.
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
  CLD: 17,
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

/** The first real-time signal as glibc numbers it. */
export const SIGRTMIN = 34;
/** The last real-time signal. */
export const SIGRTMAX = 64;

/** One name per number: the first of each alias set above (ABRT, CHLD, IO). */
const NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(SIGNALS)) if (!NAMES.has(n)) NAMES.set(n, name);

/**
 * `SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`, `RTMAX-2` (any case) → its number; undefined when
 * it names no signal. The CRI enum's spelling of real-time signals (`SIGRTMINPLUS3`,
 * `SIGRTMAXMINUS2`) is read too. Numbers are 1–31 and 34–64.
 */
export function signalNumber(name: string): number | undefined {
  const s = name.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return signalName(n) === undefined ? undefined : n;
  }
  const bare = s.startsWith("SIG") ? s.slice(3) : s;
  const rtmin = bare.match(/^RTMIN(?:(?:\+|PLUS)(\d{1,2}))?$/);
  if (rtmin) {
    const n = SIGRTMIN + Number(rtmin[1] ?? 0);
    return n <= SIGRTMAX ? n : undefined;
  }
  const rtmax = bare.match(/^RTMAX(?:(?:-|MINUS)(\d{1,2}))?$/);
  if (rtmax) {
    const n = SIGRTMAX - Number(rtmax[1] ?? 0);
    return n >= SIGRTMIN ? n : undefined;
  }
  return Object.hasOwn(SIGNALS, bare) ? SIGNALS[bare] : undefined;
}

/**
 * The canonical name of signal `n`: `SIGTERM`, `SIGRTMIN`, `SIGRTMIN+n` (up to +15, as
 * the CRI enum), `SIGRTMAX-n`, `SIGRTMAX`; undefined for a number that is not a signal.
 */
export function signalName(n: number): string | undefined {
  if (!Number.isInteger(n)) return undefined;
  const name = NAMES.get(n);
  if (name) return `SIG${name}`;
  if (n === SIGRTMIN) return "SIGRTMIN";
  if (n === SIGRTMAX) return "SIGRTMAX";
  if (n > SIGRTMIN && n <= SIGRTMIN + 15) return `SIGRTMIN+${n - SIGRTMIN}`;
  if (n > SIGRTMIN + 15 && n < SIGRTMAX) return `SIGRTMAX-${SIGRTMAX - n}`;
  return undefined;
}

/**
 * `s` spelled the one way the records keep it: a number as its name (`37` → `SIGRTMIN+3`),
 * a real-time name in the `+`/`-` form, any other name upper-case with `SIG` (an alias
 * stays itself: `iot` → `SIGIOT`); undefined when `s` names no signal.
 */
export function canonicalSignal(s: string): string | undefined {
  const n = signalNumber(s);
  if (n === undefined) return undefined;
  if (n >= SIGRTMIN || /^\s*\d+\s*$/.test(s)) return signalName(n);
  const upper = s.trim().toUpperCase();
  return upper.startsWith("SIG") ? upper : `SIG${upper}`;
}

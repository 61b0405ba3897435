/**
 * A container's stop signal (KEP-4960): `ContainerConfig.stop_signal` when set, else the
 * image's STOPSIGNAL (a name or a number), else SIGTERM. The record keeps it as a signal
 * name; StopContainer sends that signal and ContainerStatus.stop_signal reports that same
 * name, so what is reported is what is sent. A value that names no signal is refused at
 * CreateContainer, never replaced by SIGTERM.
 *
 * The CRI `Signal` enum numbers its values in its own order; real-time signals are the enum
 * value less one (SIGNAL_SIGRTMIN = 35 is signal 34), as containerd maps them.
 *
 * @module
 */
import { Signal } from "../api/gen/api.ts";
import { invalidArgument } from "../errors/mod.ts";
import { canonicalSignal, signalName, signalNumber, SIGRTMAX, SIGRTMIN } from "../lib/signals.ts";

const ENUM = Signal as unknown as Record<string, number | undefined>;

/**
 * The stop signal's name for the record: from `configSignal` (the CRI enum), else from
 * the image's `imageStopSignal`, else SIGTERM. invalid-argument naming the field when the
 * one that applies names no signal.
 */
export function resolveStopSignal(
  configSignal: Signal,
  imageStopSignal: string,
  imageName: string,
): string {
  if (configSignal !== Signal.SIGNAL_RUNTIME_DEFAULT) {
    const key = configSignal > 0 ? Signal[configSignal] : undefined;
    const name = key === undefined ? undefined : canonicalSignal(key.replace(/^SIGNAL_/, ""));
    if (name === undefined) {
      throw invalidArgument(`config.stop_signal: ${configSignal} is not a CRI Signal value`);
    }
    return name;
  }
  if (imageStopSignal.trim() === "") return "SIGTERM";
  const name = canonicalSignal(imageStopSignal);
  if (name === undefined) {
    throw invalidArgument(
      `config.image: the STOPSIGNAL ${JSON.stringify(imageStopSignal)} of image ` +
        `"${imageName}" is not a signal; set config.stop_signal to override it`,
    );
  }
  return name;
}

/** The CRI Signal of a recorded signal name (an alias such as SIGCLD reports as itself). */
export function criSignal(name: string): Signal {
  const n = signalNumber(name);
  if (n === undefined) return Signal.SIGNAL_RUNTIME_DEFAULT;
  if (n >= SIGRTMIN && n <= SIGRTMAX) return n + 1;
  const upper = name.trim().toUpperCase();
  const v = ENUM[`SIGNAL_${upper.startsWith("SIG") ? upper : `SIG${upper}`}`] ??
    ENUM[`SIGNAL_${signalName(n)}`];
  return typeof v === "number" ? v : Signal.SIGNAL_RUNTIME_DEFAULT;
}

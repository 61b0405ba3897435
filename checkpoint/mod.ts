/**
 * Checkpoint and restore with CRIU: the node's capability (`probe.ts`), the archive the
 * kubelet, checkpointctl, CRI-O and containerd know (`archive.ts` writes it, `read.ts`
 * reads and checks it, hostile input assumed), and the writable-layer diff.
 *
 * @module
 */
export {
  type CheckpointCapability,
  CheckpointProbe,
  criuCheckReason,
  parseCriuVersion,
  probeCheckpoint,
} from "./probe.ts";
export {
  ARCHIVE,
  type ArchiveInput,
  type BindMountEntry,
  type ConfigDump,
  type CriuOptions,
  rfc3339Nano,
  writeArchive,
  writeArchiveDir,
  ZERO_TIME,
} from "./archive.ts";
export { type RootfsDiff, writeRootfsDiff } from "./_rootfs_diff.ts";
export {
  type Checkpoint,
  type OciSpecDump,
  READ_LIMITS,
  readCheckpointArchive,
  readCheckpointDir,
} from "./read.ts";

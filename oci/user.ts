/**
 * Who a container process runs as: CRI run_as_user / run_as_group / run_as_username or the
 * image's `USER`, resolved against the container's own `/etc/passwd` and `/etc/group` the way
 * containerd does (`pkg/oci/spec_opts.go` WithUser, WithUserID, WithUsername,
 * WithAdditionalGIDs; `internal/cri/server/container_create_linux.go` for the
 * SupplementalGroupsPolicy). Pure: the caller reads the files.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";

/** One line of `/etc/passwd`. */
export interface PasswdEntry {
  /** Login name. */
  name: string;
  /** User id. */
  uid: number;
  /** Primary group id. */
  gid: number;
  /** Home directory. */
  home: string;
}

/** One line of `/etc/group`. */
export interface GroupEntry {
  /** Group name. */
  name: string;
  /** Group id. */
  gid: number;
  /** Login names listed as members. */
  members: string[];
}

/** runc refuses ids above this (it keeps them in Go `int`s of 32 bits); so does containerd. */
export const MAX_ID = 2 ** 31 - 1;

function parseId(s: string): number | undefined {
  if (!/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/** The lines of a colon-separated database, without comments and blank lines. */
function records(text: string): string[][] {
  const out: string[][] = [];
  for (const raw of text.split("\n")) {
    const hash = raw.indexOf("#");
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (line !== "") out.push(line.split(":"));
  }
  return out;
}

/**
 * Parses `/etc/passwd` (`name:password:uid:gid:gecos:home:shell`). Lines whose uid or gid is
 * not a number are skipped rather than read as 0, which would make them root.
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of records(text)) {
    const uid = parseId(f[2] ?? "");
    const gid = parseId(f[3] ?? "");
    if (!f[0] || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? "" });
  }
  return out;
}

/** Parses `/etc/group` (`name:password:gid:member,member`). */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of records(text)) {
    const gid = parseId(f[2] ?? "");
    if (!f[0] || gid === undefined) continue;
    const members = (f[3] ?? "").split(",").map((m) => m.trim()).filter((m) => m !== "");
    out.push({ name: f[0], gid, members });
  }
  return out;
}

/** What to resolve. */
export interface ResolveUserInput {
  /**
   * An OCI image `User` string: `uid`, `name`, `uid:gid`, `name:group`, `uid:group`,
   * `name:gid`. Empty means root.
   */
  user: string;
  /** The container's `/etc/passwd`, when it has one. */
  passwd?: string | undefined;
  /** The container's `/etc/group`, when it has one. */
  group?: string | undefined;
  /** The security context's supplemental_groups, added in both policies. */
  supplementalGroups?: readonly number[];
  /**
   * `merge` (CRI's default) adds the groups `/etc/group` lists the user in; `strict` adds
   * only `supplementalGroups`.
   */
  policy?: "merge" | "strict";
  /** Field path named in errors (`container.linux.security_context.run_as_username`). */
  field: string;
}

/** The resolved identity. */
export interface ResolvedUser {
  /** User id to run as. */
  uid: number;
  /** Primary group id to run as. */
  gid: number;
  /**
   * Sorted, without duplicates, and including `gid`: containerd puts the primary group in
   * the list since CVE-2023-25173 so that a setgroups() in the container cannot drop it.
   */
  additionalGids: number[];
  /** The user's name in `/etc/passwd`, when it has an entry. */
  username?: string;
}

/**
 * Resolves a user string against the container's passwd and group files.
 *
 * - A numeric uid takes its primary gid from `/etc/passwd`, or 0 when it has no entry
 *   (a uid needs no entry; a name does).
 * - A name, user or group, must exist: an unknown one is invalid-argument naming the field.
 * - An explicit group replaces the primary group.
 */
export function resolveUser(input: ResolveUserInput): ResolvedUser {
  const { field } = input;
  const users = input.passwd === undefined ? [] : parsePasswd(input.passwd);
  const groups = input.group === undefined ? [] : parseGroup(input.group);
  const parts = input.user === "" ? ["0"] : input.user.split(":");
  if (parts.length > 2 || parts.some((p) => p === "")) {
    throw invalidArgument(`${field}: invalid user "${input.user}" (want user, uid, user:group)`);
  }
  const [userPart, groupPart] = parts as [string, string | undefined];

  let uid: number;
  let gid: number;
  let entry: PasswdEntry | undefined;
  if (/^\d+$/.test(userPart)) {
    const n = parseId(userPart);
    if (n === undefined) throw invalidArgument(`${field}: uid ${userPart} is out of range`);
    uid = n;
    entry = users.find((u) => u.uid === uid);
    gid = entry?.gid ?? 0;
  } else {
    entry = users.find((u) => u.name === userPart);
    if (!entry) {
      throw invalidArgument(
        `${field}: user "${userPart}" not found in the container's /etc/passwd` +
          (input.passwd === undefined ? " (the image has none)" : ""),
      );
    }
    uid = entry.uid;
    gid = entry.gid;
  }
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) {
      const n = parseId(groupPart);
      if (n === undefined) throw invalidArgument(`${field}: gid ${groupPart} is out of range`);
      gid = n;
    } else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) {
        throw invalidArgument(
          `${field}: group "${groupPart}" not found in the container's /etc/group` +
            (input.group === undefined ? " (the image has none)" : ""),
        );
      }
      gid = g.gid;
    }
  }

  const gids = new Set<number>([gid, ...(input.supplementalGroups ?? [])]);
  // containerd skips a group named like the user: it is the user's own primary group, which
  // the list already carries when it is the one in effect.
  if ((input.policy ?? "merge") === "merge" && entry) {
    const name = entry.name;
    for (const g of groups) if (g.name !== name && g.members.includes(name)) gids.add(g.gid);
  }
  const out: ResolvedUser = { uid, gid, additionalGids: [...gids].sort((a, b) => a - b) };
  if (entry) out.username = entry.name;
  return out;
}

/**
 * Error classes for everything a user can cause. The CLI prints `ctscope: <message>` and exits with
 * the class's code, never a stack trace. The native addon throws these same classes (they are
 * handed to it at load time), so both backends fail identically.
 */
export class CtscopeError extends Error {
  readonly exitCode: number = 1;
  override name = "CtscopeError";
}

/** Bad command line: unknown option, invalid CIDR, port or protocol. Exit 2. */
export class UsageError extends CtscopeError {
  override readonly exitCode = 2;
  override name = "UsageError";
}

/** An input cannot be read: missing, a directory, permission denied, truncated while read. Exit 3. */
export class InputError extends CtscopeError {
  override readonly exitCode = 3;
  override name = "InputError";
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

/** The native backend was required (--backend native, CTSCOPE_BACKEND=native) but cannot load. Exit 4. */
export class BackendError extends CtscopeError {
  override readonly exitCode = 4;
  override name = "BackendError";
}

/** Human reason for a Node fs error code. */
export function describeErrno(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a path component is not a directory";
    case "ELOOP":
      return "too many symbolic links";
    case "EMFILE":
    case "ENFILE":
      return "too many open files";
    case "Z_DATA_ERROR":
    case "Z_BUF_ERROR":
      return `not valid gzip data (${e.message})`;
    default:
      return e?.message ?? String(err);
  }
}

/** The one error type CLI commands throw: a message, a hint, and the process exit code it maps to. */

export const EXIT_OK = 0;
/** The operation failed: the server refused it, could not be reached, or it did not complete. */
export const EXIT_FAILURE = 1;
/** The command line itself was wrong: unknown command or option, bad value, missing argument. */
export const EXIT_USAGE = 2;

export class CliError extends Error {
  readonly hint: string | undefined;
  /** The API's error code (CAXTON_ERR_...) or a CLI one (CAXTON_CLI_...). */
  readonly code: string;
  readonly exitCode: number;
  /** The HTTP status, when the error came from the API. */
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    message: string,
    opts: { hint?: string; code?: string; exitCode?: number; status?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CliError';
    this.hint = opts.hint;
    this.code = opts.code ?? 'CAXTON_CLI_ERROR';
    this.exitCode = opts.exitCode ?? EXIT_FAILURE;
    this.status = opts.status;
    this.details = opts.details;
  }

  /** The API's error shape, for `--output json`. */
  toJSON(): { error: { code: string; message: string; hint?: string; details?: Record<string, unknown> } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.hint === undefined ? {} : { hint: this.hint }),
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

/** A usage error found by our own checks (commander reports its own with exit code 2 too). */
export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, { code: 'CAXTON_CLI_USAGE', exitCode: EXIT_USAGE, ...(hint === undefined ? {} : { hint }) });
}

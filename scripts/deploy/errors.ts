/** Errors of the deploy script: each has a code, a message for the operator and an exit status. */

export type DeployErrorCode =
  | 'DEPLOY_USAGE'
  | 'DEPLOY_SECRET_MISSING'
  | 'DEPLOY_HOSTS_FILE'
  | 'DEPLOY_HOST_UNREACHABLE'
  | 'DEPLOY_REMOTE_FAILED'
  | 'DEPLOY_COORDINATOR_UNREACHABLE'
  | 'DEPLOY_NOT_IN_RING'
  | 'DEPLOY_START_FAILED'
  | 'DEPLOY_STOP_FAILED'
  | 'DEPLOY_DRAIN_FAILED'
  | 'DEPLOY_PARTIAL_FAILURE';

/** Exit status per code: 2 for a bad invocation (nothing was touched), 1 for a failure while working. */
const EXIT_STATUS: Record<DeployErrorCode, number> = {
  DEPLOY_USAGE: 2,
  DEPLOY_SECRET_MISSING: 2,
  DEPLOY_HOSTS_FILE: 2,
  DEPLOY_HOST_UNREACHABLE: 1,
  DEPLOY_REMOTE_FAILED: 1,
  DEPLOY_COORDINATOR_UNREACHABLE: 1,
  DEPLOY_NOT_IN_RING: 1,
  DEPLOY_START_FAILED: 1,
  DEPLOY_STOP_FAILED: 1,
  DEPLOY_DRAIN_FAILED: 1,
  DEPLOY_PARTIAL_FAILURE: 1,
};

/** Every code with its exit status; docs/operations.md lists them (a test keeps both in sync). */
export const DEPLOY_ERROR_EXIT_STATUS: Readonly<Record<DeployErrorCode, number>> = EXIT_STATUS;

export class DeployError extends Error {
  readonly code: DeployErrorCode;
  readonly exitStatus: number;
  /** Extra lines shown under the message, e.g. the relay's last log lines. */
  readonly details: string[];

  constructor(code: DeployErrorCode, message: string, opts: { details?: string[]; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'DeployError';
    this.code = code;
    this.exitStatus = EXIT_STATUS[code];
    this.details = opts.details ?? [];
  }
}

/** The message of any thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

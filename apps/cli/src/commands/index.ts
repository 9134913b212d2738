import type { CliCommand } from '../command';
import { tenantCommand } from './tenant';

/** Every sub-command of `portcullis`, in the order `--help` lists them. */
export const COMMANDS: readonly CliCommand[] = [tenantCommand];

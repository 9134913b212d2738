import type { CliCommand } from '../command';

/** Every sub-command of `portcullis`, in the order `--help` lists them. */
export const COMMANDS: readonly CliCommand[] = [];

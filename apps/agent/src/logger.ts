import pino, { type Logger } from 'pino';

/** JSON logs on stdout; the credential can never reach them (redacted wherever it would sit). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component: 'portcullis-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['agentToken', 'token', 'authorization', '*.authorization', 'headers.authorization'],
        censor: '[redacted]',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

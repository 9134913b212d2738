import { PG_EPOCH_MS } from '@portcullis/db';

/** The contract's TIMESTAMP, with its parts captured (validation has already matched it). */
const PARTS = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:Z|([+-])(\d\d):(\d\d))$/;

/**
 * The instant an RFC 3339 timestamp names (a zone, up to nine fractional digits, as the
 * contract's TIMESTAMP allows), in Unix milliseconds, rounded exactly as PostgreSQL stores
 * the same text in a timestamptz(3): the fraction to microseconds half to even, then to
 * milliseconds half away from PostgreSQL's epoch. A second of 60 is the next minute's
 * first, as PostgreSQL reads it. Undefined when the text names no instant: a day the
 * month does not have (February 30), year 0, or not the contract's form at all.
 *
 * Date.parse differs on exactly these: it moves February 30 into March and answers NaN for
 * a leap second, and it truncates the fraction where PostgreSQL rounds.
 */
export function instantMs(iso: string): number | undefined {
  const m = PARTS.exec(iso);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999
  let ms =
    new Date(0).setUTCFullYear(year, month - 1, day) + ((Number(m[4]) * 60 + Number(m[5])) * 60 + Number(m[6])) * 1000;
  if (m[8] !== undefined) ms -= (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) * 60_000;
  if (m[7] === undefined) return ms;
  const micros = (ms - PG_EPOCH_MS) * 1000 + halfEven(Number(`0.${m[7]}`) * 1e6);
  const rounded = micros >= 0 ? Math.floor((micros + 500) / 1000) : -Math.floor((-micros + 500) / 1000);
  return rounded + PG_EPOCH_MS;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** rint: the nearest integer, a half to the even one (x >= 0). */
function halfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 === 1 ? r - 1 : r;
}

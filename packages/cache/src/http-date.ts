const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const day = '(?:mon|tue|wed|thu|fri|sat|sun)';
const longDay = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)';
const month = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const time = '(\\d{2}):(\\d{2}):(\\d{2})';

// RFC 9110 §5.6.7: IMF-fixdate, and the two obsolete forms a recipient must still accept.
// Names are matched without regard to case, as the suite's "wrong case" tests expect of an
// optimal cache; everything else (spacing, digits, `GMT`) is exact.
const imfFixdate = new RegExp(`^${day}, (\\d{2}) ${month} (\\d{4}) ${time} gmt$`, 'i');
const rfc850 = new RegExp(`^${longDay}, (\\d{2})-${month}-(\\d{2}) ${time} gmt$`, 'i');
const asctime = new RegExp(`^${day} ${month} ([ \\d]\\d) ${time} (\\d{4})$`, 'i');

function toMs(year: number, monthName: string, dayOfMonth: number, hour: number, minute: number, second: number): number {
  if (dayOfMonth < 1 || dayOfMonth > 31 || hour > 23 || minute > 59 || second > 60) return Number.NaN;
  return Date.UTC(year, months.indexOf(monthName.toLowerCase()), dayOfMonth, hour, minute, Math.min(second, 59));
}

/**
 * Parses an HTTP-date strictly (RFC 9110 §5.6.7): IMF-fixdate, RFC 850 or asctime. Anything else
 * (another time zone, a missing comma, one-digit hours, two dates joined by a comma) is `NaN`:
 * RFC 9111 §5.3 makes an invalid `Expires` mean "already expired", which `Date.parse()`, lenient
 * by design, would read as a valid date. A two-digit RFC 850 year more than 50 years ahead of
 * `nowMs` is taken from the previous century, as §5.6.7 requires.
 */
export function parseHttpDate(value: string, nowMs: number): number {
  const text = value.trim();
  let m = imfFixdate.exec(text);
  if (m !== null) return toMs(Number(m[3]), m[2] as string, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = rfc850.exec(text);
  if (m !== null) {
    const thisYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    return toMs(year, m[2] as string, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = asctime.exec(text);
  if (m !== null) return toMs(Number(m[6]), m[1] as string, Number((m[2] as string).trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return Number.NaN;
}

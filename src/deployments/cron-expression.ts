import type { CalendarSpec, DayOfWeek, LooseRange, Month } from '@temporalio/client';

/**
 * Five-field POSIX cron (`minute hour day-of-month month day-of-week`), as the
 * hosted API takes it, turned into Temporal Schedule calendars. Temporal could parse
 * cron strings itself, but it accepts more than POSIX (seconds, `@every`, `L`, `#`),
 * so the API would take expressions other servers refuse, and its errors would not
 * name the field. Parsing here keeps one meaning and a 400 that says what is wrong.
 */

export class CronExpressionError extends Error {}

type Field = { name: string; min: number; max: number; names?: readonly string[] };

const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  // 7 is Sunday too, as in most crons.
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const MONTHS: readonly Month[] = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];
const DAYS: readonly DayOfWeek[] = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

export type CronExpression = {
  minutes: number[];
  hours: number[];
  daysOfMonth: number[];
  months: number[];
  /** 0–6, Sunday 0 (a 7 in the expression is folded into 0). */
  daysOfWeek: number[];
  /** POSIX: when both day fields are restricted, a day matches either one. */
  dayFieldsOred: boolean;
};

/** Parses `expression`, throwing a `CronExpressionError` whose message names the field at fault. */
export function parseCron(expression: string): CronExpression {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] === '') {
    throw new CronExpressionError(`expected 5 fields (minute hour day-of-month month day-of-week), got ${parts[0] === '' ? 0 : parts.length}`);
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = parts.map((part, index) => parseField(part, FIELDS[index]!));
  return {
    minutes: minutes!,
    hours: hours!,
    daysOfMonth: daysOfMonth!,
    months: months!,
    daysOfWeek: [...new Set(daysOfWeek!.map((day) => day % 7))].sort((a, b) => a - b),
    dayFieldsOred: !parts[2]!.startsWith('*') && !parts[4]!.startsWith('*'),
  };
}

/** The problem with `expression`, or `undefined` when it is a valid five-field cron. */
export function cronProblem(expression: string): string | undefined {
  try {
    parseCron(expression);
    return undefined;
  } catch (error) {
    if (error instanceof CronExpressionError) return error.message;
    throw error;
  }
}

function parseField(text: string, field: Field): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const fail = (why: string): never => {
      throw new CronExpressionError(`${field.name} field "${text}": ${why}`);
    };
    if (item === '') fail('empty list item');
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined) fail(`"${item}" has more than one "/"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) fail(`step "${stepText}" must be a whole number of at least 1`);
      step = Number(stepText);
    }
    let start: number;
    let end: number;
    if (range === '*') {
      [start, end] = [field.min, field.max];
    } else {
      const [from, to, more] = range!.split('-');
      if (more !== undefined) fail(`"${range}" is not a value or a range a-b`);
      start = valueOf(from!, field, fail);
      // `a/n` means from a to the end, stepping n.
      end = to !== undefined ? valueOf(to, field, fail) : stepText !== undefined ? field.max : start;
      if (end < start) fail(`range ${from}-${to} runs backwards`);
    }
    for (let value = start; value <= end; value += step) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

function valueOf(text: string, field: Field, fail: (why: string) => never): number {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return field.name === 'month' ? named + 1 : named;
  if (!/^\d+$/.test(text)) {
    const hint = /[LW#?@]/.test(text) ? ' (L, W, #, ? and @-shortcuts are not POSIX cron)' : '';
    fail(`"${text}" is not a number${field.names ? ' or a name' : ''}${hint}`);
  }
  const value = Number(text);
  if (value < field.min || value > field.max) fail(`${value} is outside ${field.min}–${field.max}`);
  return value;
}

/** Temporal calendars matching exactly the times `expression` names. */
export function calendarsOf(expression: string): CalendarSpec[] {
  const cron = parseCron(expression);
  const base: CalendarSpec = {
    second: 0,
    minute: ranges(cron.minutes, 0, 59),
    hour: ranges(cron.hours, 0, 23),
    month: fullOr(cron.months, 1, 12, () => cron.months.map((m) => MONTHS[m - 1]!)),
  };
  const dayOfMonth = ranges(cron.daysOfMonth, 1, 31);
  const dayOfWeek = fullOr(cron.daysOfWeek, 0, 6, () => cron.daysOfWeek.map((d) => DAYS[d]!));
  // Temporal ANDs a calendar's fields; POSIX ORs the two day fields when both are set.
  if (cron.dayFieldsOred) return [{ ...base, dayOfMonth, dayOfWeek: '*' }, { ...base, dayOfMonth: '*', dayOfWeek }];
  return [{ ...base, dayOfMonth, dayOfWeek }];
}

function fullOr<T>(values: number[], min: number, max: number, list: () => T[]): T[] | '*' {
  return values.length === max - min + 1 ? '*' : list();
}

/** Values as runs (`{start, end}`), so the Temporal UI shows `9-17`, not nine numbers. */
function ranges(values: number[], min: number, max: number): LooseRange<number>[] | '*' {
  if (values.length === max - min + 1) return '*';
  const runs: LooseRange<number>[] = [];
  let start = values[0]!;
  for (let index = 1; index <= values.length; index++) {
    const previous = values[index - 1]!;
    if (values[index] === previous + 1) continue;
    runs.push(start === previous ? start : { start, end: previous });
    start = values[index]!;
  }
  return runs;
}

/** IANA zone names (`Europe/Berlin`, `UTC`); offsets like `+01:00` and abbreviations like `CET` are refused. */
export function isIanaTimezone(zone: string): boolean {
  if (zone !== 'UTC' && !/^[A-Za-z][A-Za-z_+-]*(\/[A-Za-z0-9_+-]+){1,2}$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

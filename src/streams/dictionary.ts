/**
 * WebIDL's conversion of a dictionary argument, for every options bag wsstream
 * takes: `undefined` and `null` mean an empty dictionary, an object (functions
 * included) is read member by member, and any other value is a TypeError
 * thrown before anything is connected.
 */
export function readDictionary<T extends object>(value: unknown, name: string): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError(`${name} must be an object, not ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'symbol') return 'a symbol';
  return `${typeof value} ${String(value)}`;
}

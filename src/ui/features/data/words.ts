// Small wording helpers of the Data screen.

/** "1 row", "3 rows", "1 pair". */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

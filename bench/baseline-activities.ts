/** The baseline's three activities: they take a chunk's range and do nothing with it. */
export interface Range {
  from: number;
  to: number;
}

const noop = async (range: Range): Promise<number> => range.to - range.from;

export const baselineActivities = { first: noop, second: noop, third: noop };
export type BaselineActivities = typeof baselineActivities;

/** The bench's items, the same for batchflow and its peers: short product texts the classifier knows. */
export interface BenchItem {
  ref: string;
  text: string;
}

const TEXTS = ['cotton t-shirt crew neck', 'leather oxford shoes', 'laptop computer', 'wooden dining chair', 'plush toy puzzle'];

export const benchItems = (count: number, prefix: string): BenchItem[] =>
  Array.from({ length: count }, (_, i) => ({ ref: `${prefix}-${i}`, text: TEXTS[i % TEXTS.length]! }));

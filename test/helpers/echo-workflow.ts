/** A workflow with nothing in it but its answer: for tests of the worker machinery, not of batches. */
export async function echo(value: string): Promise<string> {
  return value;
}

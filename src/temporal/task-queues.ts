/**
 * The task queue a batch's workflow runs on. Express batches have a queue, and worker slots, of
 * their own: they never wait behind normal work. The API starts workflows on it and the worker
 * process polls it, so the name is built here only.
 */
export const expressTaskQueue = (base: string): string => `${base}-express`;

/** The task queue of a batch of this priority. */
export const taskQueueFor = (base: string, priority: string): string => (priority === 'express' ? expressTaskQueue(base) : base);

/**
 * The task queue a batch's workflow runs on. Express batches have a queue, and worker slots, of
 * their own: they never wait behind normal work. The API starts workflows on it and the worker
 * process polls it, so the name is built here only.
 */
export const expressTaskQueue = (base: string): string => `${base}-express`;

/** The task queue of a batch of this priority. */
export const taskQueueFor = (base: string, priority: string): string => (priority === 'express' ? expressTaskQueue(base) : base);

/**
 * Activity slots of a worker process's express worker. Fixed, unlike the normal queue's
 * (WORKER_ACTIVITY_SLOTS): express batches are the few that must not wait.
 */
export const EXPRESS_ACTIVITY_SLOTS = 16;

/** The activity slots a batch of this priority runs on, per worker process, given the normal queue's. */
export const slotsFor = (priority: string, normalSlots: number): number => (priority === 'express' ? EXPRESS_ACTIVITY_SLOTS : normalSlots);

// The worker's single entry into workflow code: one re-export per workflow.
export * from './batch';
export * from './retention';
export * from './webhook';

// The worker's single entry into workflow code: one re-export per workflow, and the batch
// workflow's signal, query and update definitions.
export { batchWorkflow } from './batch/workflow';
export * from './batch/handlers';
export * from './retention';
export * from './webhook';

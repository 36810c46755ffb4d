/** Compute jobs from the requester's side: blobs, running a job on k nodes, the reputation record. */
export {
  storeBlob,
  blobGrantKeys,
  blobOfEntries,
  type BlobOwner,
  type StoreBlobOptions,
} from './blob-store.js';
export {
  runJob,
  DEFAULT_JOB_LIMITS,
  type RunJobOptions,
  type JobResult,
  type JobProgress,
  type NodeJobOutcome,
} from './run-job.js';
export { decideMajority, agreementKey, type AgreementFields, type NodeReport } from './majority.js';
export {
  readReputation,
  recordVerdicts,
  type ReputationRecord,
  type NodeReputation,
  type Verdict,
} from './reputation.js';
export {
  jobsInfo,
  jobState,
  submitJob,
  type ComputeNodeInfo,
  type JobMeter,
  type JobState,
} from './node-api.js';
export { fetchJobResult, type JobResultOptions } from './job-result.js';
export { checkAnswer, openOutput, type Checked, type ExpectedJob } from './answer.js';

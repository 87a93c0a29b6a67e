export { planRun } from './plan-run.js';

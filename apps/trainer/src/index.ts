// sr1-train's programmatic API: the same runs the CLI starts, for scripts and tests.

export type { CostStudyOptions, CostStudyResult, CostStudyVerdict } from './cost-study.js';
export { COST_STUDY_GOAL, compareCostStudy, runCostStudy } from './cost-study.js';
export type { DemoOptions, DemoResult } from './demo.js';
export { DEMO_WORLDS, runDemo } from './demo.js';
export { engineGenerator } from './engine-generator.js';
export { makeBasePolicy } from './make-base.js';
export { promptOptions, TOY_TEMPLATE } from './prompt-options.js';
export type {
  Dashboard,
  DashboardOptions,
  ReportCheck,
  ReportInput,
  ReportRun,
  ReportTrajectory,
  WriteReportOptions,
} from './report.js';
export {
  ChromiumMissingError,
  checkReportInBrowser,
  findChromium,
  loadRuns,
  maskedSegments,
  planCharts,
  renderReport,
  reportTrajectory,
  startDashboard,
  withDashboard,
  writeReport,
} from './report.js';
export { DEMO_REPORT, locateReport } from './report-path.js';
export type { RlConfig } from './rl-config.js';
export { loadRlConfig, PAPER_PRESETS, parseRlConfig } from './rl-config.js';
export { runRl } from './rl-run.js';
export type { SftConfig } from './sft-config.js';
export { loadSftConfig, parseSftConfig } from './sft-config.js';
export { runSft } from './sft-run.js';
export { BASE_POLICY_MIX, demonstrate, demonstrations } from './toy-data.js';
export { materializeWorld } from './toy-setup.js';

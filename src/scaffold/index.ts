/** Agent project scaffolding (`caxton new agent`): templates and the generator. */
export {
  DEFAULT_TEMPLATE, PROJECT_NAME, ScaffoldError, checkName, newAgentProject, substitute,
} from './generate.js';
export type { AgentManifest, NewAgentOptions, NewAgentResult, ScaffoldProblem } from './generate.js';
export {
  CAXTON_ROOT, LANGUAGES, SDK_DIRS, TEMPLATES, TEMPLATES_DIR, availableTemplates, describeTemplates, isLanguage, isTemplateName,
} from './templates.js';
export type { Language, TemplateName } from './templates.js';

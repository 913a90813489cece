export { CONFIG_FILE, configFrom, configKeys, dataPath, loadConfig, validateConfig } from './loader.js';
export { type Config, ConfigSchema, type LoadedConfig, NOTIFY_CHANGES } from './schema.js';

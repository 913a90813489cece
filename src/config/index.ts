export { CONFIG_FILE, configFrom, configKeys, dataPath, loadConfig, validateConfig } from './loader.js';
export { type Config, ConfigSchema, type LoadedConfig } from './schema.js';

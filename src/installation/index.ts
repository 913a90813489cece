export { createInstallation, type InitOptions, type InitResult } from './create-installation.js';
export { type InstallationLayout, installationLayout } from './layout.js';

export { CLIENT_ROUTES, CONSOLE_CSP, consoleBuilt, consoleRoutes, defaultWebRoot } from './console-routes.js';

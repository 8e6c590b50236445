// Type-checked only: a CommonJS TypeScript module requiring the package.
import flotilla = require('flotilla');

export const start: typeof flotilla.Host.start = flotilla.Host.start;

// Work in progress: this package is being built (see the issues).
export {};

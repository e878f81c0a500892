// The error hierarchy lives in the framework-free kernel so that deciders can throw it; the platform
// re-exports it for the HTTP edge and the services.
export * from '@audit/kernel';

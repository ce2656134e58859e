/** Exit status of a container whose engine failed or whose guest trapped (as SIGABRT would). */
export const TRAP_EXIT_STATUS = 134;

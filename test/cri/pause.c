/*
 * The pod sandbox ("pause") process of the CRI end-to-end test: holds the pod's namespaces and
 * does nothing until SIGTERM or SIGINT, then exits 0. Built with `gcc -static` so the image
 * needs no libc.
 */
#include <signal.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(void) {
  struct sigaction action = {0};
  sigset_t blocked, waiting;
  action.sa_handler = on_signal;
  sigaction(SIGTERM, &action, 0);
  sigaction(SIGINT, &action, 0);
  /* As PID 1 of a pid namespace, reap whatever gets reparented to us. */
  signal(SIGCHLD, SIG_IGN);
  /* Block the signals between the check and the wait, so none is lost. */
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigprocmask(SIG_BLOCK, &blocked, &waiting);
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGINT);
  while (!stop) sigsuspend(&waiting);
  return 0;
}

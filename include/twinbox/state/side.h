/*
 * The two sides of a sync, A and B. The state records each message's id
 * and each folder's markers per side; the planner and the executor treat
 * the sides alike. The config calls side A the remote side (the server
 * an account syncs with) and side B the local one (its Maildir).
 */
#ifndef TWINBOX_STATE_SIDE_H
#define TWINBOX_STATE_SIDE_H

enum side {
	SIDE_A = 0,
	SIDE_B = 1,
};
#define SIDES 2

static inline enum side side_other(enum side s)
{
	return s == SIDE_A ? SIDE_B : SIDE_A;
}

#endif

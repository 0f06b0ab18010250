/* SPDX-License-Identifier: Apache-2.0 */
/* sockwrap.c: see sockwrap.h. */
#include "sockwrap.h"

#include <apr_portable.h>
#include <pthread.h>
#include <stdlib.h>

/*
 * A free wrapper is kept in a small malloc'd node: the apr_socket_t is
 * opaque, so it cannot carry our list pointer itself.
 */
typedef struct free_node {
	apr_socket_t *sock;
	struct free_node *next;
} free_node;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static apr_pool_t *slab_pool;	/* never destroyed: lives as long as mpsd */
static free_node *free_list;
static apr_size_t in_use;

apr_socket_t *
mps_sockwrap_get(int fd)
{
	apr_socket_t *sock = NULL;
	apr_os_sock_t os = fd;
	free_node *n;

	pthread_mutex_lock(&lock);
	if (free_list != NULL) {
		n = free_list;
		free_list = n->next;
		sock = n->sock;
		free(n);
	} else {
		if (slab_pool == NULL &&
		    apr_pool_create_unmanaged_ex(&slab_pool, NULL, NULL) !=
		    APR_SUCCESS) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
	}
	/* With *sock set, apr_os_sock_put reuses the struct and only stores
	 * the descriptor; with NULL it allocates one from slab_pool. Either
	 * way no cleanup is registered: the caller closes fd. */
	if (apr_os_sock_put(&sock, &os, slab_pool) != APR_SUCCESS)
		sock = NULL;
	if (sock != NULL)
		in_use++;
	pthread_mutex_unlock(&lock);
	return sock;
}

void
mps_sockwrap_put(apr_socket_t *sock)
{
	free_node *n;

	if (sock == NULL)
		return;
	n = malloc(sizeof(*n));
	pthread_mutex_lock(&lock);
	in_use--;
	if (n != NULL) {
		n->sock = sock;
		n->next = free_list;
		free_list = n;
	}
	/* Without a node the wrapper is simply not reused (a few hundred
	 * bytes of slab_pool stay allocated): better than failing a close. */
	pthread_mutex_unlock(&lock);
}

apr_size_t
mps_sockwrap_in_use(void)
{
	apr_size_t n;

	pthread_mutex_lock(&lock);
	n = in_use;
	pthread_mutex_unlock(&lock);
	return n;
}

void
mps_sockwrap_cleanup(void)
{
	free_node *n;

	pthread_mutex_lock(&lock);
	while ((n = free_list) != NULL) {
		free_list = n->next;
		free(n);
	}
	if (slab_pool != NULL) {
		apr_pool_destroy(slab_pool);
		slab_pool = NULL;
	}
	in_use = 0;
	pthread_mutex_unlock(&lock);
}

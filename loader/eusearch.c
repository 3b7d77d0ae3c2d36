// SPDX-License-Identifier: Apache-2.0
//go:build static

// Definitions, for a static link only (`-tags static`), of the tree functions Debian's
// libelf.a (elfutils 0.192) calls and no Debian archive defines: elfutils builds them
// into libeu.a, which it does not install. libelf passes a pointer to its own
//
//	typedef struct { void *root; <lock> } search_tree;
//
// whose lock member is a pthread_rwlock_t or nothing, depending on how elfutils was
// configured. These functions use only the first member, the tsearch(3) root, and guard
// every tree with one process-wide mutex instead of the tree's own lock, so they are
// correct for either layout. libelf only calls them when it opens and closes an ELF and
// when it caches raw chunks, so one mutex costs nothing measurable.
#define _GNU_SOURCE /* tdestroy */
#include <pthread.h>
#include <search.h>
#include <stddef.h>

struct bk_search_tree {
	void *root;
};

typedef int (*bk_compare)(const void *, const void *);

static pthread_mutex_t bk_tree_mu = PTHREAD_MUTEX_INITIALIZER;

void *eu_tsearch(const void *key, struct bk_search_tree *tree, bk_compare compare) {
	pthread_mutex_lock(&bk_tree_mu);
	void *r = tsearch(key, &tree->root, compare);
	pthread_mutex_unlock(&bk_tree_mu);
	return r;
}

void *eu_tfind(const void *key, struct bk_search_tree *tree, bk_compare compare) {
	pthread_mutex_lock(&bk_tree_mu);
	void *r = tfind(key, &tree->root, compare);
	pthread_mutex_unlock(&bk_tree_mu);
	return r;
}

void *eu_tdelete(const void *key, struct bk_search_tree *tree, bk_compare compare) {
	pthread_mutex_lock(&bk_tree_mu);
	void *r = tdelete(key, &tree->root, compare);
	pthread_mutex_unlock(&bk_tree_mu);
	return r;
}

static void bk_free_nothing(void *node) { (void)node; }

void eu_tdestroy(struct bk_search_tree *tree, void (*free_node)(void *)) {
	pthread_mutex_lock(&bk_tree_mu);
	if (tree->root)
		tdestroy(tree->root, free_node ? free_node : bk_free_nothing);
	tree->root = NULL;
	pthread_mutex_unlock(&bk_tree_mu);
}

void eu_search_tree_init(struct bk_search_tree *tree) {
	tree->root = NULL;
}

void eu_search_tree_fini(struct bk_search_tree *tree, void (*free_node)(void *)) {
	eu_tdestroy(tree, free_node);
}

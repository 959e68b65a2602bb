// Package storetest holds tests written only against relay.Store and
// relay.RetentionStore, which every store implementation runs from its
// own tests with a factory of new, empty stores.
package storetest

// A client nobody here wrote: the official Go package github.com/hashicorp/vault/api, with its
// LifetimeWatcher, keeping a database lease alive until it can no longer be renewed.
// Reads VAULT_ADDR and VAULT_TOKEN (DefaultConfig and NewClient) and EOS_ROLE; prints one JSON
// object per event; never a password.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	vault "github.com/hashicorp/vault/api"
)

func emit(fields map[string]any) {
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

func fail(step string, err error) {
	emit(map[string]any{"event": "error", "step": step, "message": err.Error()})
	os.Exit(1)
}

func main() {
	client, err := vault.NewClient(vault.DefaultConfig())
	if err != nil {
		fail("client", err)
	}
	role := os.Getenv("EOS_ROLE")
	secret, err := client.Logical().Read("database/creds/" + role)
	if err != nil {
		fail("read", err)
	}
	started := time.Now()
	emit(map[string]any{"event": "issued", "lease_duration": secret.LeaseDuration, "renewable": secret.Renewable, "username": secret.Data["username"]})

	watcher, err := client.NewLifetimeWatcher(&vault.LifetimeWatcherInput{Secret: secret})
	if err != nil {
		fail("watcher", err)
	}
	go watcher.Start()
	defer watcher.Stop()
	renewals := 0
	for {
		select {
		case err := <-watcher.DoneCh():
			message := ""
			if err != nil {
				message = err.Error()
			}
			emit(map[string]any{"event": "done", "renewals": renewals, "after_seconds": time.Since(started).Seconds(), "error": message})
			return
		case renewal := <-watcher.RenewCh():
			renewals++
			emit(map[string]any{"event": "renewed", "lease_duration": renewal.Secret.LeaseDuration, "at_seconds": time.Since(started).Seconds()})
		}
	}
}

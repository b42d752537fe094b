-- A neutralized copy of a database must not talk to Gumroad or keep a usable token.
UPDATE gumroad_account SET access_token_cipher = NULL, has_token = FALSE, state = 'not_connected',
       sync_enabled = FALSE, webhook_registered_resources = NULL;

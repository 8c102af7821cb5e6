-- a ledger written by carbonledger 0.1 (schema version 1, sealed with a key kept beside it)
BEGIN TRANSACTION;
CREATE TABLE carbonledger_keys (
        public_key TEXT PRIMARY KEY,
        private_pem TEXT NOT NULL
    );
CREATE TABLE carbonledger_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
INSERT INTO "carbonledger_meta" VALUES('schema','carbonledger-ledger');
INSERT INTO "carbonledger_meta" VALUES('created_unix_s','1700000100.0');
INSERT INTO "carbonledger_meta" VALUES('seal_head','{"hash":"ed5ac6b928d57e74f998ca3407bdab84e161a2e8f8d3ef9c5d52741d62c2aaee","seq":2,"signature":"ebcf4163f57e7eb50707835b644051eff0aeaec449b5a2cf7ff12d8153ceac0c1b045d7d74ce1a4a966b331cbedd71a9052afd1ccce04ccbfc7ed353302c7807"}');
INSERT INTO "carbonledger_meta" VALUES('public_key','c55d22daf75d4be1ebc01fe9f05ab9372b9dc72432f8e4827838001caab85590');
CREATE TABLE devices (
        device_ref INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        component TEXT NOT NULL,
        device TEXT NOT NULL,
        host TEXT NOT NULL,
        method TEXT NOT NULL,
        measured INTEGER NOT NULL,
        model TEXT NOT NULL,
        uid TEXT NOT NULL,
        UNIQUE (run_id, member_id, device)
    );
INSERT INTO "devices" VALUES(1,'old-1','m1','cpu','cpu:package-0','h','unknown',0,'','');
INSERT INTO "devices" VALUES(2,'old-2','m2','cpu','cpu:package-0','h','unknown',0,'','');
CREATE TABLE leases (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        member_id TEXT NOT NULL,
        expires_unix_s REAL NOT NULL,
        PRIMARY KEY (run_id, key)
    );
CREATE TABLE members (
        run_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        rank INTEGER,
        local_rank INTEGER,
        started_unix_s REAL NOT NULL,
        heartbeat_unix_s REAL NOT NULL,
        lease_ttl_s REAL NOT NULL,
        finished_unix_s REAL,
        status TEXT NOT NULL,
        components TEXT,
        errors TEXT NOT NULL,
        PRIMARY KEY (run_id, member_id)
    );
INSERT INTO "members" VALUES('old-1','m1','h',1,NULL,NULL,1700000001.0,1700000100.0,5.0,1700000100.0,'completed','[{"component":"cpu","device":"cpu:package-0","duration_s":10.0,"energy_j":100.0,"high_j":null,"host":"h","low_j":null,"measured":true,"method":"rapl","model":""}]','[]');
INSERT INTO "members" VALUES('old-2','m2','h',1,NULL,NULL,1700000002.0,1700000100.0,5.0,1700000100.0,'completed','[{"component":"cpu","device":"cpu:package-0","duration_s":10.0,"energy_j":200.0,"high_j":null,"host":"h","low_j":null,"measured":true,"method":"rapl","model":""}]','[]');
CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        experiment TEXT NOT NULL,
        tags TEXT NOT NULL,
        started_unix_s REAL NOT NULL,
        finished_unix_s REAL,
        scope TEXT NOT NULL,
        location TEXT NOT NULL,
        location_source TEXT NOT NULL,
        intensity_g_per_kwh REAL NOT NULL,
        intensity_source TEXT NOT NULL,
        pue REAL NOT NULL,
        pue_source TEXT NOT NULL,
        meta TEXT NOT NULL,
        status TEXT NOT NULL,
        seal_seq INTEGER
    );
INSERT INTO "runs" VALUES('old-1','legacy','exp','{}',1700000001.0,1700000100.0,'process','FR','argument',50.0,'table',1.2,'argument','{}','completed',1);
INSERT INTO "runs" VALUES('old-2','legacy','exp','{}',1700000002.0,1700000100.0,'process','FR','argument',50.0,'table',1.2,'argument','{}','completed',2);
CREATE TABLE samples (
        device_ref INTEGER NOT NULL,
        time_unix_s REAL NOT NULL,
        energy_j REAL NOT NULL,
        power_w REAL,
        low_j REAL,
        high_j REAL
    );
INSERT INTO "samples" VALUES(1,1700000002.0,10.0,NULL,NULL,NULL);
INSERT INTO "samples" VALUES(2,1700000003.0,20.0,NULL,NULL,NULL);
CREATE TABLE seals (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        signature TEXT NOT NULL,
        sealed_unix_s REAL NOT NULL,
        canonical TEXT NOT NULL
    );
INSERT INTO "seals" VALUES(1,'old-1','seal','0000000000000000000000000000000000000000000000000000000000000000','fa74c2d918a665301e7c7d59f2fa6c45b7e92bf78fb8397d1a277965fadb3821','d1b4e3f57bf984397e5d548ab0ee8705f9f88002acd77bfc58e6cc8b7e6b8186321d7d85600905cd0f1002b79f0c15c8e962ae7a6aa962056be816a42a36ac06',1700000100.0,'{"kind":"seal","members":[{"components":[{"component":"cpu","device":"cpu:package-0","duration_s":10.0,"energy_j":100.0,"high_j":null,"host":"h","low_j":null,"measured":true,"method":"rapl","model":""}],"errors":[],"finished_unix_s":1700000100.0,"host":"h","local_rank":null,"member_id":"m1","pid":1,"rank":null,"run_id":"old-1","started_unix_s":1700000001.0,"status":"completed"}],"run":{"experiment":"exp","finished_unix_s":1700000100.0,"intensity_g_per_kwh":50.0,"intensity_source":"table","location":"FR","location_source":"argument","meta":{},"project":"legacy","pue":1.2,"pue_source":"argument","run_id":"old-1","scope":"process","started_unix_s":1700000001.0,"status":"completed","tags":{}},"windows":[{"co2e_g":null,"components":[{"component":"cpu","device":"cpu:package-0","duration_s":10.0,"energy_j":100.0,"high_j":null,"host":"h","low_j":null,"measured":true,"method":"rapl","model":""}],"duration_s":5.0,"member_id":"m1","name":"epoch-1","path":"epoch-1","run_id":"old-1","started_unix_s":1700000001.0}]}');
INSERT INTO "seals" VALUES(2,'old-2','seal','fa74c2d918a665301e7c7d59f2fa6c45b7e92bf78fb8397d1a277965fadb3821','ed5ac6b928d57e74f998ca3407bdab84e161a2e8f8d3ef9c5d52741d62c2aaee','4e297623757ce8eaaa88e0ebe3a2b71d572be76450598f39a9373b4246dbe4e0d6c3683730dc45b3b0967be98f3d958cf8fafc171c71866398d334a380dd990d',1700000100.0,'{"kind":"seal","members":[{"components":[{"component":"cpu","device":"cpu:package-0","duration_s":10.0,"energy_j":200.0,"high_j":null,"host":"h","low_j":null,"measured":true,"method":"rapl","model":""}],"errors":[],"finished_unix_s":1700000100.0,"host":"h","local_rank":null,"member_id":"m2","pid":1,"rank":null,"run_id":"old-2","started_unix_s":1700000002.0,"status":"completed"}],"run":{"experiment":"exp","finished_unix_s":1700000100.0,"intensity_g_per_kwh":50.0,"intensity_source":"table","location":"FR","location_source":"argument","meta":{},"project":"legacy","pue":1.2,"pue_source":"argument","run_id":"old-2","scope":"process","started_unix_s":1700000002.0,"status":"completed","tags":{}},"windows":[{"co2e_g":null,"components":[{"component":"cpu","device":"cpu:package-0","duration_s":10.0,"energy_j":200.0,"high_j":null,"host":"h","low_j":null,"measured":true,"method":"rapl","model":""}],"duration_s":5.0,"member_id":"m2","name":"epoch-1","path":"epoch-1","run_id":"old-2","started_unix_s":1700000002.0}]}');
CREATE TABLE windows (
        window_ref INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        started_unix_s REAL NOT NULL,
        duration_s REAL NOT NULL,
        co2e_g REAL,
        components TEXT NOT NULL
    );
INSERT INTO "windows" VALUES(1,'old-1','m1','epoch-1','epoch-1',1700000001.0,5.0,NULL,'[{"component":"cpu","device":"cpu:package-0","duration_s":10.0,"energy_j":100.0,"high_j":null,"host":"h","low_j":null,"measured":true,"method":"rapl","model":""}]');
INSERT INTO "windows" VALUES(2,'old-2','m2','epoch-1','epoch-1',1700000002.0,5.0,NULL,'[{"component":"cpu","device":"cpu:package-0","duration_s":10.0,"energy_j":200.0,"high_j":null,"host":"h","low_j":null,"measured":true,"method":"rapl","model":""}]');
CREATE INDEX runs_by_start ON runs (started_unix_s);
CREATE INDEX runs_by_project ON runs (project, started_unix_s);
CREATE INDEX samples_latest ON samples (device_ref, time_unix_s);
CREATE INDEX windows_by_run ON windows (run_id, started_unix_s);
CREATE INDEX seals_by_run ON seals (run_id, seq);
CREATE VIEW samples_view AS
        SELECT d.run_id, d.member_id, s.time_unix_s, d.component, d.device, d.host,
               s.energy_j, s.power_w, s.low_j, s.high_j
        FROM samples s JOIN devices d ON d.device_ref = s.device_ref;
COMMIT;
PRAGMA user_version = 1;

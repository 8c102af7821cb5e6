-- a schema-2 ledger as carbonledger 0.1.0 wrote it (sqlite3 .dump); see tests/ledger/test_upgrade.py
PRAGMA user_version = 2;
BEGIN TRANSACTION;
CREATE TABLE carbonledger_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
INSERT INTO "carbonledger_meta" VALUES('schema','carbonledger-ledger');
INSERT INTO "carbonledger_meta" VALUES('created_unix_s','1796433080.9120617');
INSERT INTO "carbonledger_meta" VALUES('seal_head','{"hash":"d9575080c17aacf9b70fc659ad0c497f232233ab8dc6dc17835446a1864551c2","seq":21,"signature":"eb72417c01196f5f9bc5c40678f66f705aad5927a39db79b2c6d7119efc125e0b27cc3cac909b1a69a64da8843be32015a85284ab0e7c126919712355375cb01","signer":"19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a"}');
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
INSERT INTO "devices" VALUES(1,'98c68a6a2647125b1579fb3702665779','c4446a89b4480be84cc485f26d2463bc','cpu','cpu:package-0','node-a','rapl',1,'','');
INSERT INTO "devices" VALUES(2,'98c68a6a2647125b1579fb3702665779','c4446a89b4480be84cc485f26d2463bc','ram','ram','node-a','model',0,'','');
INSERT INTO "devices" VALUES(3,'slurm-77','m-a','gpu','gpu:0','node-0','nvml',1,'','GPU-0');
INSERT INTO "devices" VALUES(4,'slurm-77','m-b','gpu','gpu:1','node-1','nvml',1,'','GPU-1');
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
INSERT INTO "members" VALUES('98c68a6a2647125b1579fb3702665779','c4446a89b4480be84cc485f26d2463bc','node-a',4242,NULL,NULL,1750000000.0,1.79643308095900726319e+09,10800.0,1.79643308095900726319e+09,'completed','[{"component":"cpu","device":"cpu:package-0","duration_s":5.0,"energy_j":200.0,"high_j":null,"host":"node-a","low_j":null,"measured":true,"method":"rapl","model":""},{"component":"ram","device":"ram","duration_s":5.0,"energy_j":25.0,"high_j":31.25,"host":"node-a","low_j":18.75,"measured":false,"method":"model","model":""}]','[]');
INSERT INTO "members" VALUES('slurm-77','m-a','node-0',100,0,0,1750000005.0,1750000023.0,15.0,1750000023.0,'completed','[{"component":"gpu","device":"gpu:0","duration_s":18.0,"energy_j":900.0,"high_j":null,"host":"node-0","low_j":null,"measured":true,"method":"nvml","model":""}]','[]');
INSERT INTO "members" VALUES('slurm-77','m-b','node-1',101,1,0,1750000005.0,1750000023.0,15.0,1750000023.0,'interrupted','[{"component":"gpu","device":"gpu:1","duration_s":18.0,"energy_j":900.0,"high_j":null,"host":"node-1","low_j":null,"measured":true,"method":"nvml","model":""}]','["rank 1 (node-1, pid 101) stopped heart-beating at 2025-06-15T15:07:03+00:00 (lease TTL 15 s): energy up to its last signed checkpoint"]');
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
INSERT INTO "runs" VALUES('98c68a6a2647125b1579fb3702665779','vision','resnet','{"team":"a"}',1750000000.0,1.79643308095900726319e+09,'process','FR','argument',44.1791,'Our World in Data, carbon intensity of electricity generation, from Ember (2025) and Energy Institute Statistical Review of World Energy (2024), 2024 (FR, lifecycle)',1.2,'argument','{"carbonledger_version":"0.1.0","cloud_provider":"","cloud_region":"","command":["gen.py"],"country_iso_code":"FR","country_name":"France","cpu_count":2,"cpu_model":"","expected_epochs":null,"gpu_count":0,"gpu_model":"","market_g_per_kwh":null,"metrics":{"accuracy":0.91},"os":"Linux-6.18.44-fc-v1272-x86_64-with-glibc2.36","python_version":"3.11.7","ram_total_gb":25.276194816,"region":"","run_id_source":"new"}','completed',7);
INSERT INTO "runs" VALUES('slurm-77','llm','base','{"k":"v"}',1750000005.0,1750000023.0,'process','DE','argument',380.0,'table: test',1.1,'argument','{"cmd":"train"}','interrupted',21);
CREATE TABLE samples (
        device_ref INTEGER NOT NULL,
        time_unix_s REAL NOT NULL,
        energy_j REAL NOT NULL,
        power_w REAL,
        low_j REAL,
        high_j REAL
    , seg INTEGER);
INSERT INTO "samples" VALUES(1,1750000000.0,0.0,40.0,NULL,NULL,1);
INSERT INTO "samples" VALUES(2,1750000000.0,0.0,5.0,0.0,0.0,1);
INSERT INTO "samples" VALUES(1,1750000002.0,80.0,40.0,NULL,NULL,1);
INSERT INTO "samples" VALUES(2,1750000002.0,10.0,5.0,7.5,12.5,1);
INSERT INTO "samples" VALUES(1,1750000004.0,160.0,40.0,NULL,NULL,1);
INSERT INTO "samples" VALUES(2,1750000004.0,20.0,5.0,15.0,25.0,1);
INSERT INTO "samples" VALUES(1,1750000005.0,200.0,40.0,NULL,NULL,1);
INSERT INTO "samples" VALUES(2,1750000005.0,25.0,5.0,18.75,31.25,1);
INSERT INTO "samples" VALUES(3,1750000011.0,300.0,50.0,NULL,NULL,1);
INSERT INTO "samples" VALUES(4,1750000011.0,300.0,50.0,NULL,NULL,1);
INSERT INTO "samples" VALUES(3,1750000017.0,600.0,50.0,NULL,NULL,2);
INSERT INTO "samples" VALUES(4,1750000017.0,600.0,50.0,NULL,NULL,2);
INSERT INTO "samples" VALUES(3,1750000023.0,900.0,50.0,NULL,NULL,3);
INSERT INTO "samples" VALUES(4,1750000023.0,900.0,50.0,NULL,NULL,3);
CREATE TABLE seals (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        signature TEXT NOT NULL,
        sealed_unix_s REAL NOT NULL,
        canonical TEXT NOT NULL
    , member_id TEXT NOT NULL DEFAULT '', signer TEXT NOT NULL DEFAULT '');
INSERT INTO "seals" VALUES(1,'98c68a6a2647125b1579fb3702665779','start','0000000000000000000000000000000000000000000000000000000000000000','2df07975b5a3903e0d23ae50707d673c63635b1ed0ea85cd835cef6308f50c12','640f015195608724b533f01bbf178737ea5956de202d7fb378853f7e2392d4d3fde7625e41e05500ac6d55747c66d2ab3e2474608fcd244b9f59ac9dbfc55402',1.7964330809539320469e+09,'{"kind":"start","member_id":"","run":{"experiment":"resnet","intensity_g_per_kwh":44.1791,"intensity_source":"Our World in Data, carbon intensity of electricity generation, from Ember (2025) and Energy Institute Statistical Review of World Energy (2024), 2024 (FR, lifecycle)","location":"FR","location_source":"argument","meta":{"carbonledger_version":"0.1.0","cloud_provider":"","cloud_region":"","command":["gen.py"],"country_iso_code":"FR","country_name":"France","cpu_count":2,"cpu_model":"","expected_epochs":null,"gpu_count":0,"gpu_model":"","market_g_per_kwh":null,"os":"Linux-6.18.44-fc-v1272-x86_64-with-glibc2.36","python_version":"3.11.7","ram_total_gb":25.276194816,"region":"","run_id_source":"new"},"project":"vision","pue":1.2,"pue_source":"argument","run_id":"98c68a6a2647125b1579fb3702665779","scope":"process","started_unix_s":1750000000.0,"tags":{"team":"a"}},"run_id":"98c68a6a2647125b1579fb3702665779"}','','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(2,'98c68a6a2647125b1579fb3702665779','join','2df07975b5a3903e0d23ae50707d673c63635b1ed0ea85cd835cef6308f50c12','09a686bbb1543cfe41de5e639e54983d1618ee86cf518d6ec710dabd75e315d4','e2dd2efb6a11582a1d61fa9e3a83cfd0ec0441571cff7918a33218b7a9b28d356dc0487e65e05b19f41e2faa7325ab8c8d74b7fa22a5613fcb2abf57b9e24507',1.79643308095506119728e+09,'{"kind":"join","member":{"host":"node-a","local_rank":null,"member_id":"c4446a89b4480be84cc485f26d2463bc","pid":4242,"rank":null,"started_unix_s":1750000000.0},"member_id":"c4446a89b4480be84cc485f26d2463bc","prev":"","run_id":"98c68a6a2647125b1579fb3702665779"}','c4446a89b4480be84cc485f26d2463bc','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(3,'98c68a6a2647125b1579fb3702665779','devices','09a686bbb1543cfe41de5e639e54983d1618ee86cf518d6ec710dabd75e315d4','3fd8c9af56181c8014702ef74d186966abc0921559bf7d83871a137058fc05f2','3526fd2bc726c36acef7d327ddb9fbf631fb0985e37a9abac040e9933c6b0b544e45de0783f92c3c951f385d1cf95b441b86a5066d787a19c5575b2a11d5af06',1.79643308095614337924e+09,'{"devices":[{"component":"cpu","device":"cpu:package-0","host":"node-a","measured":1,"method":"rapl","model":"","uid":""},{"component":"ram","device":"ram","host":"node-a","measured":0,"method":"model","model":"","uid":""}],"kind":"devices","member_id":"c4446a89b4480be84cc485f26d2463bc","prev":"09a686bbb1543cfe41de5e639e54983d1618ee86cf518d6ec710dabd75e315d4","run_id":"98c68a6a2647125b1579fb3702665779"}','c4446a89b4480be84cc485f26d2463bc','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(4,'98c68a6a2647125b1579fb3702665779','meta','3fd8c9af56181c8014702ef74d186966abc0921559bf7d83871a137058fc05f2','dabf1b799a45b097c88f089b1628d86f54d96954e5c45fb5677de5040e60a210','6f58a96a63499b611540adb347fd8b69297f6e57126fe18cdab102aa52d92233f61696d6aab755310890a3a5bbe6b509fbe04b7d695bd398f895f9caa310f706',1.79643308095849061007e+09,'{"kind":"meta","member_id":"","meta":{"metrics":{"accuracy":0.91}},"run_id":"98c68a6a2647125b1579fb3702665779"}','','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(5,'98c68a6a2647125b1579fb3702665779','checkpoint','dabf1b799a45b097c88f089b1628d86f54d96954e5c45fb5677de5040e60a210','f82386b1a4ff7314b63cf54da835b3e939e9104e3d1d2d87215b50812956b01c','bfe180acfb212be3f6c8631b9e6df3ed441f8475e37c72f3c27ac403f02224973864632dd8245ee9d88c73af1bed025edbeddcc3f42973b59c20524efc90900c',1.79643308095900726319e+09,'{"digest":"c0b522ffb89ca2e93d371ad6b81592fe4ebeb12612a78a9436166be94288ed10","kind":"checkpoint","member_id":"c4446a89b4480be84cc485f26d2463bc","prev":"3fd8c9af56181c8014702ef74d186966abc0921559bf7d83871a137058fc05f2","run_id":"98c68a6a2647125b1579fb3702665779","samples":8,"seg":1,"time_unix_s":1796433080.9590073,"windows":2}','c4446a89b4480be84cc485f26d2463bc','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(6,'98c68a6a2647125b1579fb3702665779','end','f82386b1a4ff7314b63cf54da835b3e939e9104e3d1d2d87215b50812956b01c','f618ad548469bc51bd66c33e362e30c2f8c29d1517af0d1c73af5eee153cce94','98d57ccdc9508b37acea5224d4a24cfdc96b7bd8243e15e432e00cd3f5494d8a1c3cbedef5e2e938fe5d0659fef342b71a09d7c6ef5c748fd9ee5dea5f630607',1.79643308095900726319e+09,'{"components":[{"component":"cpu","device":"cpu:package-0","duration_s":5.0,"energy_j":200.0,"high_j":null,"host":"node-a","low_j":null,"measured":true,"method":"rapl","model":""},{"component":"ram","device":"ram","duration_s":5.0,"energy_j":25.0,"high_j":31.25,"host":"node-a","low_j":18.75,"measured":false,"method":"model","model":""}],"errors":[],"finished_unix_s":1796433080.9590073,"kind":"end","member_id":"c4446a89b4480be84cc485f26d2463bc","prev":"f82386b1a4ff7314b63cf54da835b3e939e9104e3d1d2d87215b50812956b01c","run_id":"98c68a6a2647125b1579fb3702665779","seg":1,"status":"completed"}','c4446a89b4480be84cc485f26d2463bc','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(7,'98c68a6a2647125b1579fb3702665779','seal','f618ad548469bc51bd66c33e362e30c2f8c29d1517af0d1c73af5eee153cce94','71066838554321100e6f61b4284ec9fa28b2a940a44a6d9849f3945af2b14439','98b61b5eae4d265c9f35905e5fc58916bef9e8240a659813ed8c37738b2f93f75fbf22416dde375a8b6c8e9d7fc9d7821d30eea2494b6fa6341dbfaa66505f0e',1.79643308095900726319e+09,'{"kind":"seal","member_id":"","members":[{"components":[{"component":"cpu","device":"cpu:package-0","duration_s":5.0,"energy_j":200.0,"high_j":null,"host":"node-a","low_j":null,"measured":true,"method":"rapl","model":""},{"component":"ram","device":"ram","duration_s":5.0,"energy_j":25.0,"high_j":31.25,"host":"node-a","low_j":18.75,"measured":false,"method":"model","model":""}],"errors":[],"finished_unix_s":1796433080.9590073,"host":"node-a","local_rank":null,"member_id":"c4446a89b4480be84cc485f26d2463bc","pid":4242,"rank":null,"run_id":"98c68a6a2647125b1579fb3702665779","started_unix_s":1750000000.0,"status":"completed"}],"run":{"experiment":"resnet","finished_unix_s":1796433080.9590073,"intensity_g_per_kwh":44.1791,"intensity_source":"Our World in Data, carbon intensity of electricity generation, from Ember (2025) and Energy Institute Statistical Review of World Energy (2024), 2024 (FR, lifecycle)","location":"FR","location_source":"argument","meta":{"carbonledger_version":"0.1.0","cloud_provider":"","cloud_region":"","command":["gen.py"],"country_iso_code":"FR","country_name":"France","cpu_count":2,"cpu_model":"","expected_epochs":null,"gpu_count":0,"gpu_model":"","market_g_per_kwh":null,"metrics":{"accuracy":0.91},"os":"Linux-6.18.44-fc-v1272-x86_64-with-glibc2.36","python_version":"3.11.7","ram_total_gb":25.276194816,"region":"","run_id_source":"new"},"project":"vision","pue":1.2,"pue_source":"argument","run_id":"98c68a6a2647125b1579fb3702665779","scope":"process","started_unix_s":1750000000.0,"status":"completed","tags":{"team":"a"}},"run_id":"98c68a6a2647125b1579fb3702665779","windows":[{"co2e_g":0.001325373,"components":[{"component":"cpu","device":"cpu:package-0","duration_s":2.0,"energy_j":80.0,"high_j":null,"host":"node-a","low_j":null,"measured":true,"method":"rapl","model":""},{"component":"ram","device":"ram","duration_s":2.0,"energy_j":10.0,"high_j":12.5,"host":"node-a","low_j":7.5,"measured":false,"method":"model","model":""}],"duration_s":2.0,"member_id":"c4446a89b4480be84cc485f26d2463bc","name":"epoch-1","path":"epoch-1","run_id":"98c68a6a2647125b1579fb3702665779","started_unix_s":1750000000.0},{"co2e_g":0.001325373,"components":[{"component":"cpu","device":"cpu:package-0","duration_s":2.0,"energy_j":80.0,"high_j":null,"host":"node-a","low_j":null,"measured":true,"method":"rapl","model":""},{"component":"ram","device":"ram","duration_s":2.0,"energy_j":10.0,"high_j":12.5,"host":"node-a","low_j":7.5,"measured":false,"method":"model","model":""}],"duration_s":2.0,"member_id":"c4446a89b4480be84cc485f26d2463bc","name":"epoch-2","path":"epoch-2","run_id":"98c68a6a2647125b1579fb3702665779","started_unix_s":1750000002.0}]}','','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(8,'slurm-77','start','71066838554321100e6f61b4284ec9fa28b2a940a44a6d9849f3945af2b14439','932e996dbd20960b0a1f1637e09e8961382f397134f1fd7b9e493e62ff28f1cf','5b7535335ea526d3a5d02bc89db867eaa5efda4bed3e1ffa54cfbca8d7e85fef74edc8ce21fcce9eeb86102b267adddbf5ad095a55133d60ed084d4f45667209',1750000005.0,'{"kind":"start","member_id":"","run":{"experiment":"base","intensity_g_per_kwh":380.0,"intensity_source":"table: test","location":"DE","location_source":"argument","meta":{"cmd":"train"},"project":"llm","pue":1.1,"pue_source":"argument","run_id":"slurm-77","scope":"process","started_unix_s":1750000005.0,"tags":{"k":"v"}},"run_id":"slurm-77"}','','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(9,'slurm-77','join','932e996dbd20960b0a1f1637e09e8961382f397134f1fd7b9e493e62ff28f1cf','40ca25ac11e2802cbfc4fbb37c265e06340d9a9198ef10116cb73aa942189c45','9e8d32d3974effc41c85f782620de301c65837cbfd96e4ff9e6896b72dc318124e4788d7403b80c3bdc808f88fe8cb4aa40feef9f3bb1748be2833516abe1702',1750000005.0,'{"kind":"join","member":{"host":"node-0","local_rank":0,"member_id":"m-a","pid":100,"rank":0,"started_unix_s":1750000005.0},"member_id":"m-a","prev":"","run_id":"slurm-77"}','m-a','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(10,'slurm-77','devices','40ca25ac11e2802cbfc4fbb37c265e06340d9a9198ef10116cb73aa942189c45','25b6fd4e1877c9ae21c86cca1d9740b6aa9de793fe765e6d69dc46bd118a4a6e','5fd26ea70b24d6dfb3068bec48ce3f03d638383b24180deca72a42b65939fd973d577de593fc2de4c614c55bd92a5bd549a9487655793e1f3b57fcc857f94507',1750000005.0,'{"devices":[{"component":"gpu","device":"gpu:0","host":"node-0","measured":1,"method":"nvml","model":"","uid":"GPU-0"}],"kind":"devices","member_id":"m-a","prev":"40ca25ac11e2802cbfc4fbb37c265e06340d9a9198ef10116cb73aa942189c45","run_id":"slurm-77"}','m-a','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(11,'slurm-77','join','25b6fd4e1877c9ae21c86cca1d9740b6aa9de793fe765e6d69dc46bd118a4a6e','c42cf7cc9f5929361244467a9d06583a88ce2e62c3098287b978516754133240','3bf93d21a93d1f40384c3c91696f91536bd84fd8612a966ca538b9f816168bb305b5ed940b2dfeea999edb6eb16933977af833c6057d1306de77f8bd6627bd05',1750000005.0,'{"kind":"join","member":{"host":"node-1","local_rank":0,"member_id":"m-b","pid":101,"rank":1,"started_unix_s":1750000005.0},"member_id":"m-b","prev":"","run_id":"slurm-77"}','m-b','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(12,'slurm-77','devices','c42cf7cc9f5929361244467a9d06583a88ce2e62c3098287b978516754133240','c18b7003aaa68d5c8ce98ea592497f97fb5e966aa20ee4082ade42e8075036c8','ae3ca6554b84febe603fab94449325e95ee48819832dee2dc9f6c852ca2e9e8039aeffe42a5786cc3e9282af1c3db1a5fa7f9c8f1e06c79bd77c69dea0f2ff0c',1750000005.0,'{"devices":[{"component":"gpu","device":"gpu:1","host":"node-1","measured":1,"method":"nvml","model":"","uid":"GPU-1"}],"kind":"devices","member_id":"m-b","prev":"c42cf7cc9f5929361244467a9d06583a88ce2e62c3098287b978516754133240","run_id":"slurm-77"}','m-b','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(13,'slurm-77','checkpoint','c18b7003aaa68d5c8ce98ea592497f97fb5e966aa20ee4082ade42e8075036c8','21f94ca91672218439249569fbafcdcc30d73d4ec54305f180977b8e6a41568f','923994e4bc827e07cf404d4cdf862745aee5c47b42072765b10953b6801b7055adcc1775584bd90065a9f59d35bc18d5b968549f1131abfa3495e5f47d35570f',1750000011.0,'{"digest":"b3c7f8c56cc2e057cc026f649389f18a992cda30d101fccfeb32d20306808a7a","kind":"checkpoint","member_id":"m-a","prev":"25b6fd4e1877c9ae21c86cca1d9740b6aa9de793fe765e6d69dc46bd118a4a6e","run_id":"slurm-77","samples":1,"seg":1,"time_unix_s":1750000011.0,"windows":0}','m-a','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(14,'slurm-77','checkpoint','21f94ca91672218439249569fbafcdcc30d73d4ec54305f180977b8e6a41568f','4e2087810f12bdaed4168f0a6758ff37044ee9ee84b431930c8af48e276c0ae6','56c49564d8b9f0fb5b50f834fedb56b95504af9bde64eb2a539ebf11bd2f0725f088da52cba2a17ccad22bc929f1ac375b72aaba1410aa801d6663b30321290e',1750000011.0,'{"digest":"cde2bbfc299ac6603bad4e1e651f98ceb719fe60bf1d6cfa9cd64e94965d2b97","kind":"checkpoint","member_id":"m-b","prev":"c18b7003aaa68d5c8ce98ea592497f97fb5e966aa20ee4082ade42e8075036c8","run_id":"slurm-77","samples":1,"seg":1,"time_unix_s":1750000011.0,"windows":0}','m-b','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(15,'slurm-77','checkpoint','4e2087810f12bdaed4168f0a6758ff37044ee9ee84b431930c8af48e276c0ae6','057a814c453f6e59d1823bf6d2f8b6c753bfa0679527d417238c05e91ca9d591','d82632bcf55b52f74cb28e79b0472af888baed731fa2d75c655c9340516812dbd6f2ac3acec6eab0c73609f94168830c4f3ab6c3e85b63bed56fca4799b89d06',1750000017.0,'{"digest":"d00f0be9ed67cc241281423738a5ff9ec0a2c32583c07f247b92fca3638dcc75","kind":"checkpoint","member_id":"m-a","prev":"21f94ca91672218439249569fbafcdcc30d73d4ec54305f180977b8e6a41568f","run_id":"slurm-77","samples":1,"seg":2,"time_unix_s":1750000017.0,"windows":0}','m-a','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(16,'slurm-77','checkpoint','057a814c453f6e59d1823bf6d2f8b6c753bfa0679527d417238c05e91ca9d591','17ee369259828c6993588549a7a8fbd1dd623ebd4c820c80ed88ce5db4ebae1f','d07dc2448fe05c23e44c8abb366b4b56a6816d12b2ce8117742ade51cd9c24a6e730abab1d736c28e9dce45bb2862a90972710ccf021912c0d346dd497e3ea06',1750000017.0,'{"digest":"cee894e2428012ca2bd2c26d3992de403c2f12dbd7d320b46cc966719567df18","kind":"checkpoint","member_id":"m-b","prev":"4e2087810f12bdaed4168f0a6758ff37044ee9ee84b431930c8af48e276c0ae6","run_id":"slurm-77","samples":1,"seg":2,"time_unix_s":1750000017.0,"windows":0}','m-b','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(17,'slurm-77','checkpoint','17ee369259828c6993588549a7a8fbd1dd623ebd4c820c80ed88ce5db4ebae1f','c5f043d9452af9572fb4750aa05a9976b0bafc3fd68808b01f53502233001b02','63cb641b99ca67e3e4a898e8f20b5e68cbaf4782344d1ad3255e874728e79add687e7b67841fc7475334eaa8dd543570d456f4acc0e33a5ef336436e4577c303',1750000023.0,'{"digest":"27f789aedb4a6a503501efce923480abbd27a5e0f92686834270a294c3e980da","kind":"checkpoint","member_id":"m-a","prev":"057a814c453f6e59d1823bf6d2f8b6c753bfa0679527d417238c05e91ca9d591","run_id":"slurm-77","samples":1,"seg":3,"time_unix_s":1750000023.0,"windows":0}','m-a','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(18,'slurm-77','checkpoint','c5f043d9452af9572fb4750aa05a9976b0bafc3fd68808b01f53502233001b02','16523941af4056e2c4d9befeb72fc7bdf2d2b9daa9f18fa94b9caf8a7470655c','548d43a8d053ac60dae6584504c8cf274d110d4841f66010bee0b5e6f006477f15d7cf2ccbb709b1340cf14392cb207fc7d1c88b635777e8cbf09c76cd0e1e02',1750000023.0,'{"digest":"8d97d84d0c8b46027abf0c3a15699d4ab3eff31be58e623d0a143cf7c1fbb5c6","kind":"checkpoint","member_id":"m-b","prev":"17ee369259828c6993588549a7a8fbd1dd623ebd4c820c80ed88ce5db4ebae1f","run_id":"slurm-77","samples":1,"seg":3,"time_unix_s":1750000023.0,"windows":0}','m-b','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(19,'slurm-77','end','16523941af4056e2c4d9befeb72fc7bdf2d2b9daa9f18fa94b9caf8a7470655c','09a0b25dd54322ee4ec4c944a2f0cd72d7c380fd3bf637df17c1fafcc9a8c89d','530eadd6e521bc85289ff1ba0f6976d14f6d9a5a8586e8cdf03254dc8c5b6ecb38b3caa8c3354834e98e23df0b3605e40b35f88023039ea6190171dc3982dc0b',1750000023.0,'{"components":[{"component":"gpu","device":"gpu:0","duration_s":18.0,"energy_j":900.0,"high_j":null,"host":"node-0","low_j":null,"measured":true,"method":"nvml","model":""}],"errors":[],"finished_unix_s":1750000023.0,"kind":"end","member_id":"m-a","prev":"c5f043d9452af9572fb4750aa05a9976b0bafc3fd68808b01f53502233001b02","run_id":"slurm-77","seg":3,"status":"completed"}','m-a','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(20,'slurm-77','end','09a0b25dd54322ee4ec4c944a2f0cd72d7c380fd3bf637df17c1fafcc9a8c89d','55b14adc34ebd522b14d7de15e1fe8080b733b810f5819ffc97618cf71252473','93e17f75dc85c638a84a22500a5a8a7304a15c4ac3eb5a8a61eb196a9d58987fc76595aaca6ab11f3f7e8deb39fb57244e3e618993c5755d021986cff2faad0a',1750000143.0,'{"components":[{"component":"gpu","device":"gpu:1","duration_s":18.0,"energy_j":900.0,"high_j":null,"host":"node-1","low_j":null,"measured":true,"method":"nvml","model":""}],"errors":["rank 1 (node-1, pid 101) stopped heart-beating at 2025-06-15T15:07:03+00:00 (lease TTL 15 s): energy up to its last signed checkpoint"],"finished_unix_s":1750000023.0,"kind":"end","member_id":"m-b","prev":"16523941af4056e2c4d9befeb72fc7bdf2d2b9daa9f18fa94b9caf8a7470655c","run_id":"slurm-77","seg":3,"settled":true,"status":"interrupted"}','m-b','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
INSERT INTO "seals" VALUES(21,'slurm-77','seal','55b14adc34ebd522b14d7de15e1fe8080b733b810f5819ffc97618cf71252473','d9575080c17aacf9b70fc659ad0c497f232233ab8dc6dc17835446a1864551c2','c608fe597544697f04bbea44f23d79e3430a5f32981b552e97e678c37ded9c3d2018ad6595bb842cafedbbf9b204eb08bdd4b3193e6443881e6e916bca90160d',1750000143.0,'{"kind":"seal","member_id":"","members":[{"components":[{"component":"gpu","device":"gpu:0","duration_s":18.0,"energy_j":900.0,"high_j":null,"host":"node-0","low_j":null,"measured":true,"method":"nvml","model":""}],"errors":[],"finished_unix_s":1750000023.0,"host":"node-0","local_rank":0,"member_id":"m-a","pid":100,"rank":0,"run_id":"slurm-77","started_unix_s":1750000005.0,"status":"completed"},{"components":[{"component":"gpu","device":"gpu:1","duration_s":18.0,"energy_j":900.0,"high_j":null,"host":"node-1","low_j":null,"measured":true,"method":"nvml","model":""}],"errors":["rank 1 (node-1, pid 101) stopped heart-beating at 2025-06-15T15:07:03+00:00 (lease TTL 15 s): energy up to its last signed checkpoint"],"finished_unix_s":1750000023.0,"host":"node-1","local_rank":0,"member_id":"m-b","pid":101,"rank":1,"run_id":"slurm-77","started_unix_s":1750000005.0,"status":"interrupted"}],"run":{"experiment":"base","finished_unix_s":1750000023.0,"intensity_g_per_kwh":380.0,"intensity_source":"table: test","location":"DE","location_source":"argument","meta":{"cmd":"train"},"project":"llm","pue":1.1,"pue_source":"argument","run_id":"slurm-77","scope":"process","started_unix_s":1750000005.0,"status":"interrupted","tags":{"k":"v"}},"run_id":"slurm-77","windows":[]}','','19e457fdb2bf52f279163dc84b451c78ed9564b9c5ee45ff12915fbe8c64c22a');
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
    , seg INTEGER);
INSERT INTO "windows" VALUES(1,'98c68a6a2647125b1579fb3702665779','c4446a89b4480be84cc485f26d2463bc','epoch-1','epoch-1',1750000000.0,2.0,0.001325373,'[{"component":"cpu","device":"cpu:package-0","duration_s":2.0,"energy_j":80.0,"high_j":null,"host":"node-a","low_j":null,"measured":true,"method":"rapl","model":""},{"component":"ram","device":"ram","duration_s":2.0,"energy_j":10.0,"high_j":12.5,"host":"node-a","low_j":7.5,"measured":false,"method":"model","model":""}]',1);
INSERT INTO "windows" VALUES(2,'98c68a6a2647125b1579fb3702665779','c4446a89b4480be84cc485f26d2463bc','epoch-2','epoch-2',1750000002.0,2.0,0.001325373,'[{"component":"cpu","device":"cpu:package-0","duration_s":2.0,"energy_j":80.0,"high_j":null,"host":"node-a","low_j":null,"measured":true,"method":"rapl","model":""},{"component":"ram","device":"ram","duration_s":2.0,"energy_j":10.0,"high_j":12.5,"host":"node-a","low_j":7.5,"measured":false,"method":"model","model":""}]',1);
CREATE INDEX runs_by_start ON runs (started_unix_s);
CREATE INDEX runs_by_project ON runs (project, started_unix_s);
CREATE INDEX samples_latest ON samples (device_ref, time_unix_s);
CREATE INDEX windows_by_run ON windows (run_id, started_unix_s);
CREATE INDEX seals_by_run ON seals (run_id, seq);
CREATE VIEW samples_view AS
        SELECT d.run_id, d.member_id, s.time_unix_s, d.component, d.device, d.host,
               s.energy_j, s.power_w, s.low_j, s.high_j
        FROM samples s JOIN devices d ON d.device_ref = s.device_ref;
CREATE INDEX seals_by_member ON seals (run_id, member_id, seq);
CREATE INDEX runs_by_status ON runs (status);
COMMIT;

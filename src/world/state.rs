//! What one world holds: its scenario (shared) and its state, with the handle each service
//! gets. The admin API and the front door see all of it; each service only its [`Services`]
//! handle. Assembled here, low in the house, so that the admin API, the worlds and the front
//! door above can all name it without importing one another.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::journal::Journal;
use crate::scenario::World;
use crate::{conformance, pds, platform, provider, sds};

/// The handles each emulated service gets: its signature says what it can touch.
#[derive(Clone)]
pub struct Services {
    pub pds: pds::Pds,
    pub sds: sds::Sds,
    /// Reads PDS (the registration behind NO_RELATIONSHIP), never writes it.
    pub provider: provider::Provider,
}

/// What the sandbox holds: the admin API and the front door see all of it; each service gets
/// only its [`Services`] handle.
#[derive(Clone)]
pub struct Shared {
    pub services: Services,
    pub world: Arc<World>,
    pub journal: Journal,
    pub pds: pds::PdsStore,
    pub sds: sds::SdsDirectory,
    /// Serialised migrate Bundles (`migrate_cache_max_bytes`).
    pub migrate_cache: provider::cache::MigrateCache,
    pub clock: Clock,
    pub config: Arc<Config>,
    /// OAuth, rate limits and injected faults (the API platform's and Spine's behaviour).
    pub platform: Arc<platform::Platform>,
    /// Base URL advertised to consumers (SDS addresses, Binary URLs), no trailing slash; a
    /// world's ends with its prefix.
    pub public_url: String,
    /// The world's path prefix (`/worlds/{id}`); empty for the default world.
    pub base_path: String,
    /// Where the listeners are bound (the web page's journeys call the sandbox over the network).
    pub http_addr: SocketAddr,
    pub ssp_addr: SocketAddr,
    /// Turns true when the sandbox is shutting down, so long-lived streams can end.
    pub stopping: watch::Receiver<bool>,
    /// The last migrate Bundles delivered, whole, for the record view.
    pub deliveries: conformance::Deliveries,
    /// Consumers whose history was cleared: the report ignores their entries up to a mark.
    pub consumer_marks: conformance::Marks,
}

/// Where a world is served from: what every world of one sandbox has in common but its URLs.
pub struct Place {
    pub clock: Clock,
    pub public_url: String,
    pub base_path: String,
    pub http_addr: SocketAddr,
    pub ssp_addr: SocketAddr,
    pub stopping: watch::Receiver<bool>,
}

impl Shared {
    /// A world's state, fresh from its scenario: every service wired to its own stores. The
    /// scenario itself is shared, not copied.
    pub fn assemble(config: Arc<Config>, world: Arc<World>, place: Place) -> Self {
        let Place {
            clock,
            public_url,
            base_path,
            http_addr,
            ssp_addr,
            stopping,
        } = place;
        let platform = Arc::new(platform::Platform::new(
            &world.platform,
            config.auth == crate::config::AuthMode::Required,
            platform::oauth::Bounds {
                max_codes: config.oauth_max_codes,
                max_tokens: config.oauth_max_tokens,
                default_redirect: format!("{public_url}/callback"),
            },
        ));
        let pds_store = pds::PdsStore::new(&world);
        let sds_directory = sds::SdsDirectory::new(&world, &public_url);
        let migrate_cache = provider::cache::MigrateCache::new(config.migrate_cache_max_bytes);
        let services = Services {
            pds: pds::Pds {
                store: pds_store.clone(),
                world: world.clone(),
                clock: clock.clone(),
                platform: platform.clone(),
                public_url: public_url.clone(),
            },
            sds: sds::Sds {
                directory: sds_directory.clone(),
                api_key: config.sds_api_key.clone(),
                platform: platform.clone(),
                public_url: public_url.clone(),
            },
            provider: provider::Provider {
                world: world.clone(),
                pds: pds_store.clone(),
                clock: clock.clone(),
                public_url: public_url.clone(),
                migrate_cache: migrate_cache.clone(),
                remote_pds: config.provider_pds_url.clone(),
            },
        };
        Shared {
            services,
            stopping,
            http_addr,
            ssp_addr,
            pds: pds_store,
            sds: sds_directory,
            journal: Journal::new(config.journal_capacity, config.journal_max_bytes),
            migrate_cache,
            platform,
            world,
            clock,
            public_url,
            base_path,
            config,
            deliveries: conformance::Deliveries::default(),
            consumer_marks: conformance::Marks::default(),
        }
    }
}

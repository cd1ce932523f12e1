//! The route registry: each feature lists its routes in a `routes()` function of its own, and
//! startup composes them. Every route is registered through this builder, so the route-table
//! test can walk all of them.

use std::collections::BTreeMap;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;

use crate::state::AppState;

#[derive(Default)]
pub struct Routes {
    by_path: BTreeMap<&'static str, MethodRouter<AppState>>,
    list: Vec<(Method, &'static str)>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes::default()
    }

    /// Registers `method` on `path`, letting `route` add the handler and any layer of its
    /// own (a larger body limit, say).
    pub fn add(
        mut self,
        method: Method,
        path: &'static str,
        route: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>,
    ) -> Routes {
        let existing = self.by_path.remove(path).unwrap_or_default();
        self.by_path.insert(path, route(existing));
        self.list.push((method, path));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        handler: H,
    ) -> Routes {
        self.add(Method::GET, path, |r| r.get(handler))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        handler: H,
    ) -> Routes {
        self.add(Method::POST, path, |r| r.post(handler))
    }

    /// Both registries in one; a path both register serves the methods of both.
    pub fn merge(mut self, other: Routes) -> Routes {
        for (path, route) in other.by_path {
            let existing = self.by_path.remove(path).unwrap_or_default();
            self.by_path.insert(path, existing.merge(route));
        }
        self.list.extend(other.list);
        self
    }

    /// Every (method, path) registered.
    pub fn list(&self) -> &[(Method, &'static str)] {
        &self.list
    }

    pub fn into_router(self) -> Router<AppState> {
        self.by_path
            .into_iter()
            .fold(Router::new(), |router, (path, route)| {
                router.route(path, route)
            })
    }
}

//! The browser's WebSocket and online/offline events, turned into engine events.

use super::Event;
use futures_channel::mpsc::UnboundedSender;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

pub(crate) struct Socket {
    ws: WebSocket,
    // Kept alive as long as the socket: the browser calls them.
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

fn ws_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}/ws", location.host().ok()?))
}

impl Socket {
    pub(crate) fn open(generation: u32, events: UnboundedSender<Event>) -> Option<Socket> {
        let ws = match ws_url().and_then(|url| WebSocket::new(&url).ok()) {
            Some(ws) => ws,
            None => {
                let _ = events.unbounded_send(Event::Closed(generation, None));
                return None;
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let tx = events.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(Event::Opened(generation));
        });
        let tx = events.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Ok(buffer) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
                let _ = tx.unbounded_send(Event::Frame(generation, bytes));
            }
        });
        let tx = events;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            // The close frame says why when the server closed it on purpose (the session
            // ended, a connection cap): the session reads it.
            let _ = tx.unbounded_send(Event::Closed(generation, Some((e.code(), e.reason()))));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // An error is always followed by close; close alone drives the reconnect.
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Some(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    pub(crate) fn send(&self, bytes: &[u8]) {
        let _ = self.ws.send_with_u8_array(bytes);
    }

    pub(crate) fn close(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The closures are about to be freed: the browser must not call them any more.
        self.close();
    }
}

pub(crate) fn browser_online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(true)
}

pub(crate) fn listen_browser_events(events: UnboundedSender<Event>) {
    let Some(w) = web_sys::window() else { return };
    let tx = events.clone();
    let online = Closure::<dyn FnMut()>::new(move || {
        let _ = tx.unbounded_send(Event::BrowserOnline);
    });
    let offline = Closure::<dyn FnMut()>::new(move || {
        let _ = events.unbounded_send(Event::BrowserOffline);
    });
    let _ = w.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
    let _ = w.add_event_listener_with_callback("offline", offline.as_ref().unchecked_ref());
    // For the page's lifetime.
    online.forget();
    offline.forget();
}

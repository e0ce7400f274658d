import { KitScreen, LoginScreen, OtherTabScreen, RegisterScreen, UnlockScreen } from './ui/auth';
import { VaultScreen } from './ui/vault';
import { RestrictedScreen } from './ui/twofactor';
import { JoinScreen } from './ui/portal/join';
import { PortalScreen } from './ui/portal/portal';
import { joinLink, joinSignIn, phase, route, vault } from './state';

export function App() {
  const p = phase.value;
  if (joinLink.value && (p === 'vault' || ((p === 'login' || p === 'register') && !joinSignIn.value))) return <JoinScreen />;
  switch (p) {
    case 'boot':
      return <main class="auth" aria-busy="true" />;
    case 'other-tab':
      return <OtherTabScreen />;
    case 'login':
      return <LoginScreen />;
    case 'register':
      return <RegisterScreen />;
    case 'kit':
      return <KitScreen />;
    case 'unlock':
      return <UnlockScreen />;
    case 'restricted':
      return <RestrictedScreen />;
    case 'vault':
      if (!vault.value) return <UnlockScreen />;
      return route.value.page === 'vault' ? <VaultScreen client={vault.value} /> : <PortalScreen />;
  }
}

import { KitScreen, LoginScreen, OtherTabScreen, RegisterScreen, UnlockScreen } from './ui/auth';
import { VaultScreen } from './ui/vault';
import { phase, vault } from './state';

export function App() {
  switch (phase.value) {
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
    case 'vault':
      return vault.value ? <VaultScreen client={vault.value} /> : <UnlockScreen />;
  }
}

import { render } from 'preact';
import { App } from './app';
import { boot, initRouting } from './state';
import './styles.css';

const root = document.getElementById('app');
if (root) {
  initRouting();
  render(<App />, root);
  void boot();
}
